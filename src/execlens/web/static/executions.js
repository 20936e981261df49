"use strict";
// Runs page: filters in the address bar, keyset pages from the API, "Load more" appends.
(() => {
  const { api, el, badge, scoreBadge, when, number, showError, toast, graphs } = window.execlens;
  const PAGE = 50;
  const FIELDS = ["graph_id", "user_id", "status", "score_min", "score_max", "labelled", "judged_by",
    "created_after", "created_before"];
  const DATES = new Set(["created_after", "created_before"]);
  const field = (id) => document.getElementById(id);
  const form = field("run-filters");
  const body = document.querySelector("#runs-table tbody");
  const more = field("runs-more");
  const errorBox = field("filter-error");
  let names = new Map();
  let cursor = null;
  let shown = 0;
  let loading = 0;

  // The form's values as API query parameters; a date means midnight UTC of that day.
  function query() {
    const q = {};
    for (const name of FIELDS) {
      const value = field(name).value.trim();
      if (value !== "") q[name] = DATES.has(name) ? `${value}T00:00:00Z` : value;
    }
    return q;
  }

  function fillFromAddress() {
    const params = new URLSearchParams(location.search);
    for (const name of FIELDS) {
      const value = params.get(name);
      if (value !== null) field(name).value = DATES.has(name) ? value.slice(0, 10) : value;
    }
  }

  function row(run) {
    const summary = run.stats.activity_status || run.stats.error || "";
    return el("tr", { "data-run": run.id },
      el("td", {}, el("a", { href: `/executions/${encodeURIComponent(run.id)}`, title: run.id,
        text: run.id.length > 12 ? `${run.id.slice(0, 12)}…` : run.id })),
      el("td", { text: names.get(run.graph_id) || run.graph_id, title: run.graph_id }),
      el("td", {}, badge(run.status.toLowerCase())),
      el("td", {}, scoreBadge(run.stats.correctness_score)),
      el("td", { text: summary.length > 120 ? `${summary.slice(0, 120)}…` : summary }),
      el("td", { text: when(run.created_at) }));
  }

  async function load(reset) {
    const ticket = ++loading;
    const page = await api("/api/executions",
      { query: { ...query(), limit: PAGE, cursor: reset ? null : cursor } });
    if (ticket !== loading) return; // a newer search replaced this one
    const rows = page.items.map(row);
    if (reset) { body.replaceChildren(...rows); shown = 0; } else body.append(...rows);
    shown += rows.length;
    cursor = page.next_cursor;
    more.hidden = cursor === null;
    field("runs-count").textContent = shown === 0 ? "No runs match these filters."
      : `${number(shown)} runs shown${cursor === null ? "" : "; more are available"}`;
  }

  // The API refuses these too (422); checking here keeps a typo from costing a request.
  function problem(q) {
    for (const name of ["score_min", "score_max"]) {
      const n = Number(q[name]);
      if (name in q && !(n >= 0 && n <= 1)) return `${name}: enter a score from 0 to 1`;
    }
    if (Number(q.score_min) > Number(q.score_max)) {
      return "score_min: Score from is above Score to; swap them";
    }
    return null;
  }

  async function search() {
    errorBox.hidden = true;
    const wrong = problem(query());
    if (wrong) { showError(errorBox, wrong); return; }
    const params = new URLSearchParams(query());
    history.replaceState(null, "", params.size ? `?${params}` : location.pathname);
    try { await load(true); } catch (error) { showError(errorBox, error); }
  }

  async function loadChoices() {
    const [items, config] = await Promise.all([
      graphs(), api("/api/executions/admin/execution_analytics/config")]);
    names = new Map(items.map((g) => [g.graph_id, g.name]));
    const wanted = new URLSearchParams(location.search).get("graph_id");
    field("graph_id").append(...items.map((g) =>
      el("option", { value: g.graph_id, selected: g.graph_id === wanted, text: g.name })));
    field("judge-options").append(...config.available_models.map((m) =>
      el("option", { value: `${m.provider}/${m.value}`, label: m.label })));
  }

  form.addEventListener("submit", (event) => { event.preventDefault(); search(); });
  form.addEventListener("reset", () => setTimeout(search));
  more.addEventListener("click", () => load(false).catch((e) => toast(e.message)));
  fillFromAddress();
  loadChoices().catch((e) => toast(e.message)).then(search);
})();
