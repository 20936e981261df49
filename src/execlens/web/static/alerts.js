"use strict";
// Alerts page: the monitor's stored accuracy alerts with a link to the agent's trend, and its
// evaluator-health alerts with a link to the rule, agent or job they are about.
(() => {
  const { api, el, badge, percent, number, when, toast, runsHref } = window.execlens;
  const body = document.querySelector("#alerts-table tbody");
  const state = document.getElementById("alerts-state");
  const empty = document.getElementById("alerts-empty");
  const healthBody = document.querySelector("#health-table tbody");
  const healthEmpty = document.getElementById("health-empty");
  const kinds = { rule_backlog: "rule backlog", rule_failures: "rule failures", judge_failures: "judge failures", job_stalled: "job stalled" };

  function delivery(a) {
    return a.delivery_error ? `failed: ${a.delivery_error}` : a.notified_at ? `sent ${a.notifications}×` : "not sent";
  }

  function healthRow(a) {
    // The dashboard link is absolute (EXECLENS_PUBLIC_URL); the page stays on this server.
    const link = new URL(a.dashboard_url);
    return el("tr", {},
      el("td", { text: kinds[a.kind] || a.kind }),
      el("td", {}, el("a", { href: link.pathname + link.search, text: a.subject })),
      el("td", {}, badge(a.state)),
      el("td", { text: a.message }),
      el("td", { text: when(a.detected_at) }),
      el("td", { text: when(a.resolved_at) }),
      el("td", { text: delivery(a) }));
  }

  function row(a) {
    const trend = `/trends?graph_id=${encodeURIComponent(a.graph_id)}${a.user_id ? `&user_id=${encodeURIComponent(a.user_id)}` : ""}`;
    // The runs of the 3-day window the alert compares, on the runs page.
    const from = new Date(a.detected_at);
    from.setUTCDate(from.getUTCDate() - 3);
    const runs = runsHref({ graph_id: a.graph_id, user_id: a.user_id,
      created_after: from.toISOString().slice(0, 10) });
    return el("tr", {},
      el("td", {}, el("a", { href: trend, text: a.graph_name || a.graph_id }), " · ",
        el("a", { href: runs, title: `Runs since ${from.toISOString().slice(0, 10)}`, text: "runs" })),
      el("td", { text: a.user_id || "all users" }),
      el("td", {}, badge(a.state)),
      el("td", { text: percent(a.drop_percent) }),
      el("td", { text: number(a.three_day_avg, 1) }),
      el("td", { text: number(a.seven_day_avg, 1) }),
      el("td", { text: when(a.detected_at) }),
      el("td", { text: when(a.resolved_at) }),
      el("td", { text: delivery(a) }));
  }

  async function load() {
    const query = { state: state.value };
    const [page, health] = await Promise.all([
      api("/api/alerts", { query }),
      api("/api/health-alerts", { query }),
    ]);
    body.replaceChildren(...page.items.map(row));
    empty.hidden = page.items.length > 0;
    healthBody.replaceChildren(...health.items.map(healthRow));
    healthEmpty.hidden = health.items.length > 0;
  }

  state.addEventListener("change", () => load().catch((e) => toast(e.message)));
  load().catch((e) => toast(e.message));
})();
