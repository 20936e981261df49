"use strict";
// Judging rules page: add a rule, watch its spend, backlog and lag, pause or delete it.
(() => {
  const { api, el, badge, number, usd, showError, toast, graphs } = window.execlens;
  const field = (id) => document.getElementById(id);
  const body = document.querySelector("#rules-table tbody");
  const errorBox = field("form-error");
  let names = new Map();

  async function loadChoices() {
    const [items, config] = await Promise.all([
      graphs(), api("/api/executions/admin/execution_analytics/config")]);
    names = new Map(items.map((g) => [g.graph_id, g.name]));
    field("graph-options").replaceChildren(...items.map((g) =>
      el("option", { value: g.graph_id, label: g.name })));
    field("model_name").replaceChildren(...config.available_models.map((m) =>
      el("option", { value: m.value, selected: m.value === config.recommended_model, text: m.label })));
  }

  const lag = (h) => h.lag_p50_seconds === null ? "–"
    : `${number(h.lag_p50_seconds, 1)} s / ${number(h.lag_p95_seconds, 1)} s`;
  const state = (r) => r.paused ? "paused" : r.health.budget_exhausted ? "budget spent" : "on";

  async function act(rule, method, request) {
    try {
      await api(`/api/judging-rules/${encodeURIComponent(rule.id)}`, { method, body: request });
      await load();
    } catch (error) { toast(error.message); }
  }

  function row(rule) {
    const h = rule.health;
    const budget = rule.daily_budget_usd === null ? "" : ` of ${usd(rule.daily_budget_usd)}`;
    const job = h.open_job_id
      ? el("a", { href: `/jobs/${encodeURIComponent(h.open_job_id)}`, text: number(h.backlog) })
      : number(h.backlog);
    return el("tr", { "data-rule": rule.id },
      el("td", { text: rule.name }),
      el("td", { text: rule.graph_id ? names.get(rule.graph_id) || rule.graph_id : "every agent",
        title: rule.graph_id || null }),
      el("td", { text: `${number(rule.sample_rate * 100)}%` }),
      el("td", { text: rule.model }),
      el("td", { text: `${usd(h.spent_today_usd)}${budget}` }),
      el("td", {}, job),
      el("td", { text: `${number(h.judged_last_hour)} (${number(h.failed_last_hour)} failed)` }),
      el("td", { text: lag(h) }),
      el("td", {}, badge(state(rule))),
      el("td", { class: "actions" },
        el("button", { type: "button", class: "secondary", text: rule.paused ? "Resume" : "Pause",
          onclick: () => act(rule, "PATCH", { paused: !rule.paused }) }),
        el("button", { type: "button", class: "secondary", text: "Delete",
          onclick: () => act(rule, "DELETE") })));
  }

  async function load() {
    const { rules } = await api("/api/judging-rules");
    body.replaceChildren(...rules.map(row));
    field("rules-empty").hidden = rules.length > 0;
  }

  function request() {
    const value = (id) => field(id).value === "" ? null : Number(field(id).value);
    const rate = value("sample_rate");
    return {
      graph_id: field("graph_id").value.trim() || null,
      sample_rate: rate === null ? 1 : rate / 100,
      daily_budget_usd: value("daily_budget_usd"),
      model_name: field("model_name").value || null,
    };
  }

  field("rule-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    errorBox.hidden = true;
    try {
      await api("/api/judging-rules", { method: "POST", body: request() });
      await load();
    } catch (error) { showError(errorBox, error); }
  });

  loadChoices().then(load).catch((e) => toast(e.message));
  setInterval(() => load().catch(() => {}), 3000);
})();
