"use strict";
// Alerts page: the monitor's stored alerts with state and a link to the agent's trend.
(() => {
  const { api, el, badge, percent, number, when, toast } = window.execlens;
  const body = document.querySelector("#alerts-table tbody");
  const state = document.getElementById("alerts-state");
  const empty = document.getElementById("alerts-empty");

  function row(a) {
    const trend = `/trends?graph_id=${encodeURIComponent(a.graph_id)}${a.user_id ? `&user_id=${encodeURIComponent(a.user_id)}` : ""}`;
    return el("tr", {},
      el("td", {}, el("a", { href: trend, text: a.graph_name || a.graph_id })),
      el("td", { text: a.user_id || "all users" }),
      el("td", {}, badge(a.state)),
      el("td", { text: percent(a.drop_percent) }),
      el("td", { text: number(a.three_day_avg, 1) }),
      el("td", { text: number(a.seven_day_avg, 1) }),
      el("td", { text: when(a.detected_at) }),
      el("td", { text: when(a.resolved_at) }),
      el("td", { text: a.delivery_error ? `failed: ${a.delivery_error}` : a.notified_at ? `sent ${a.notifications}×` : "not sent" }));
  }

  async function load() {
    const page = await api("/api/alerts", { query: { state: state.value } });
    body.replaceChildren(...page.items.map(row));
    empty.hidden = page.items.length > 0;
  }

  state.addEventListener("change", () => load().catch((e) => toast(e.message)));
  load().catch((e) => toast(e.message));
})();
