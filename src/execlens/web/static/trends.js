"use strict";
// Trends page: one agent's daily score and averages as a chart, its alert, and every agent.
(() => {
  const { api, el, number, percent, when, day, showError, toast, graphs, runsHref } = window.execlens;
  const $ = (id) => document.getElementById(id);
  const params = new URLSearchParams(location.search);
  let chart = null;

  function fillForm(items) {
    const wanted = params.get("graph_id");
    $("trend-graph").replaceChildren(...items.map((g) =>
      el("option", { value: g.graph_id, selected: g.graph_id === wanted, text: g.name })));
    for (const [name, id] of [["user_id", "trend-user"], ["days_back", "trend-days"],
      ["drop_threshold", "trend-threshold"], ["window", "trend-window"]]) {
      if (params.has(name)) $(id).value = params.get(name);
    }
  }

  function showAlert(trend) {
    const alert = trend.alert;
    $("alert-card").hidden = !alert;
    $("alert-none").hidden = Boolean(alert);
    if (alert) {
      $("alert-drop").textContent = `The 3-day average is ${percent(alert.drop_percent)} below the 7-day average`;
      $("alert-three").textContent = number(alert.three_day_avg, 1);
      $("alert-seven").textContent = number(alert.seven_day_avg, 1);
      $("alert-detected").textContent = when(alert.detected_at);
    } else {
      $("alert-none").textContent = trend.alert_suppressed
        ? `No alert: ${trend.alert_suppressed}.`
        : "No alert: the 3-day average is not below the 7-day average by the threshold.";
    }
  }

  // The agent's runs created on that day (UTC), on the runs page.
  function dayRuns(d) {
    const start = day(d.date);
    const next = new Date(`${start}T00:00:00Z`);
    next.setUTCDate(next.getUTCDate() + 1);
    const href = runsHref({ graph_id: $("trend-graph").value, user_id: $("trend-user").value.trim(),
      created_after: start, created_before: next.toISOString().slice(0, 10) });
    return el("a", { href, title: `Runs created on ${start}`, text: number(d.executions) });
  }

  function showCounts(days) {
    const executions = days.reduce((sum, d) => sum + d.executions, 0);
    const scored = days.reduce((sum, d) => sum + d.scored, 0);
    $("count-latest").textContent = days.length ? day(days[days.length - 1].date) : "no runs";
    $("count-executions").textContent = number(executions);
    $("count-scored").textContent = number(scored);
    $("count-coverage").textContent = executions ? percent((scored / executions) * 100) : "–";
    const fmt = (n) => number(n, 1);
    $("trend-table").tBodies[0].replaceChildren(...[...days].reverse().map((d) => el("tr", {},
      el("td", { text: day(d.date) }), el("td", { text: fmt(d.daily_score) }),
      el("td", { text: fmt(d.three_day_avg) }), el("td", { text: fmt(d.seven_day_avg) }),
      el("td", { text: fmt(d.fourteen_day_avg) }), el("td", {}, dayRuns(d)),
      el("td", { text: d.scored }))));
  }

  function draw(days) {
    const line = (label, key, color, extra = {}) => ({
      label, data: days.map((d) => d[key]), borderColor: color, backgroundColor: color,
      spanGaps: true, tension: 0.25, pointRadius: 0, borderWidth: 2, ...extra,
    });
    const data = {
      labels: days.map((d) => day(d.date)),
      datasets: [
        line("Daily score", "daily_score", "#8a94a3", { pointRadius: 3, borderWidth: 1, showLine: false }),
        line("3-day average", "three_day_avg", "#c0392b"),
        line("7-day average", "seven_day_avg", "#1f4b99"),
        line("14-day average", "fourteen_day_avg", "#17663a", { borderDash: [6, 4] }),
      ],
    };
    if (chart) {
      chart.data = data;
      chart.update();
      return;
    }
    chart = new window.Chart($("trend-chart"), {
      type: "line",
      data,
      options: {
        responsive: true, maintainAspectRatio: false, animation: false,
        interaction: { mode: "index", intersect: false },
        scales: { y: { min: 0, max: 100, title: { display: true, text: "score" } } },
      },
    });
  }

  async function loadTrend() {
    const graphId = $("trend-graph").value;
    if (!graphId) return;
    $("trend-error").hidden = true;
    try {
      const trend = await api("/api/trends", {
        query: {
          graph_id: graphId, user_id: $("trend-user").value.trim(), days_back: $("trend-days").value,
          drop_threshold: $("trend-threshold").value, window: $("trend-window").value,
          include_historical: "true",
        },
      });
      const days = [...(trend.historical_data || [])].reverse();
      showAlert(trend);
      showCounts(days);
      draw(days);
      document.body.dataset.trendLoaded = graphId;
    } catch (error) {
      showError($("trend-error"), error);
    }
  }

  const ARROWS = { up: ["↑", "rising"], down: ["↓", "falling"], flat: ["→", "steady"] };

  async function loadOverview() {
    const [overview, open] = await Promise.all([
      api("/api/trends/agents"), api("/api/alerts", { query: { state: "open" } }),
    ]);
    const stored = new Map(open.items.map((a) => [a.graph_id, a]));
    $("overview-hint").textContent = `As the monitor judges them: last ${overview.days_back} days, `
      + `${overview.window} window, alert at a ${overview.drop_threshold} % drop.`;
    $("overview-table").tBodies[0].replaceChildren(...overview.items.map((a) => {
      const [arrow, word] = ARROWS[a.direction] || ["", "no data"];
      const alert = stored.get(a.graph_id) || a.alert;
      return el("tr", {},
        el("td", {}, el("a", { href: `/trends?graph_id=${encodeURIComponent(a.graph_id)}`, text: a.name })),
        el("td", { text: number(a.seven_day_avg, 1) }),
        el("td", { text: number(a.three_day_avg, 1) }),
        el("td", {}, el("span", { class: `arrow ${a.direction || ""}`, "aria-hidden": "true", text: arrow }),
          ` ${word}`),
        el("td", {}, el("a", { href: runsHref({ graph_id: a.graph_id }), text: number(a.executions) })),
        el("td", {}, alert
          ? el("a", { href: "/alerts", class: "badge open", text: `drop ${percent(alert.drop_percent)}` })
          : el("span", { class: "hint", text: "none" })));
    }));
  }

  graphs().then((items) => {
    fillForm(items);
    return loadTrend();
  }).catch((error) => showError($("trend-error"), error));
  loadOverview().catch((error) => toast(error.message));
})();
