"use strict";
// A job's results: filters (status, score range), sorting and pagination in the browser,
// over the results the API sent (the SSE stream while it runs, JSON pages afterwards).
window.ResultsTable = class {
  static PAGE = 25;
  static MAX_ROWS = 20000;

  constructor(jobId) {
    this.jobId = jobId;
    this.rows = new Map();
    this.sort = { key: "item_id", dir: 1 };
    this.page = 0;
    this.expanded = new Set();
    this.truncated = false;
    const $ = (id) => document.getElementById(id);
    this.body = document.querySelector("#results-table tbody");
    this.status = $("filter-status");
    this.min = $("filter-min");
    this.max = $("filter-max");
    this.count = $("results-count");
    this.csv = $("csv-link");
    this.prev = $("page-prev");
    this.next = $("page-next");
    this.label = $("page-label");
    $("result-filters").addEventListener("submit", (e) => e.preventDefault());
    for (const input of [this.status, this.min, this.max]) {
      input.addEventListener("input", () => { this.page = 0; this.render(); });
    }
    for (const button of document.querySelectorAll("#results-table [data-sort]")) {
      button.addEventListener("click", () => this.sortBy(button.dataset.sort));
    }
    this.prev.addEventListener("click", () => { this.page -= 1; this.render(); });
    this.next.addEventListener("click", () => { this.page += 1; this.render(); });
    this.render();
  }

  add(items) {
    for (const item of items) {
      if (this.rows.size >= ResultsTable.MAX_ROWS && !this.rows.has(item.item_id)) {
        this.truncated = true;
        continue;
      }
      this.rows.set(item.item_id, item);
    }
    if (!this.pending) {
      this.pending = setTimeout(() => { this.pending = null; this.render(); }, 250);
    }
  }

  async loadAll() {
    let after = null;
    do {
      const page = await window.execlens.api(`/api/analytics/jobs/${encodeURIComponent(this.jobId)}/results`,
        { query: { limit: 1000, after } });
      this.add(page.items);
      after = page.next_cursor;
    } while (after !== null && this.rows.size < ResultsTable.MAX_ROWS);
    this.truncated = this.truncated || after !== null;
    this.render();
  }

  sortBy(key) {
    this.sort = { key, dir: this.sort.key === key ? -this.sort.dir : 1 };
    for (const th of document.querySelectorAll("#results-table th[aria-sort]")) {
      const active = th.querySelector("button").dataset.sort === key;
      th.setAttribute("aria-sort", active ? (this.sort.dir > 0 ? "ascending" : "descending") : "none");
    }
    this.render();
  }

  visible() {
    const status = this.status.value;
    const min = this.min.value === "" ? null : Number(this.min.value);
    const max = this.max.value === "" ? null : Number(this.max.value);
    const ranged = min !== null || max !== null;
    const rows = [...this.rows.values()].filter((r) =>
      (!status || r.status === status)
      && (!ranged || (r.score !== null && (min === null || r.score >= min) && (max === null || r.score <= max))));
    const { key, dir } = this.sort;
    // Empty values sort last either way.
    return rows.sort((a, b) => {
      const x = a[key], y = b[key];
      if (x === y) return a.item_id - b.item_id;
      if (x === null || x === undefined) return 1;
      if (y === null || y === undefined) return -1;
      return (x < y ? -1 : 1) * dir;
    });
  }

  render() {
    const { el, idCell, badge, scoreBadge, when, number } = window.execlens;
    const rows = this.visible();
    const pages = Math.max(1, Math.ceil(rows.length / ResultsTable.PAGE));
    this.page = Math.min(Math.max(this.page, 0), pages - 1);
    const shown = rows.slice(this.page * ResultsTable.PAGE, (this.page + 1) * ResultsTable.PAGE);
    this.body.replaceChildren(...shown.flatMap((r) => this.row(r, { el, idCell, badge, scoreBadge, when })));
    const more = this.truncated ? ` (the first ${number(this.rows.size)}; export CSV for all)` : "";
    this.count.textContent = `${number(rows.length)} of ${number(this.rows.size)} results shown${more}`;
    this.label.textContent = `Page ${this.page + 1} of ${pages}`;
    this.prev.disabled = this.page === 0;
    this.next.disabled = this.page >= pages - 1;
    const query = this.status.value ? `&status=${this.status.value}` : "";
    this.csv.href = `/api/analytics/jobs/${encodeURIComponent(this.jobId)}/results?format=csv${query}`;
  }

  row(r, { el, idCell, badge, scoreBadge, when }) {
    const detail = [r.summary_text, r.error_message].filter(Boolean);
    const open = this.expanded.has(r.item_id);
    const text = r.summary_text || r.error_message || "";
    const toggle = detail.length ? el("button", {
      type: "button", class: "link", "aria-expanded": String(open),
      "aria-label": `${open ? "Hide" : "Show"} details of execution ${r.exec_id}`,
      onclick: () => { open ? this.expanded.delete(r.item_id) : this.expanded.add(r.item_id); this.render(); },
      text: open ? "less" : "more",
    }) : null;
    const main = el("tr", {},
      el("td", { text: r.item_id }),
      el("td", {}, idCell(r.exec_id, "execution", window.execlens.runHref(r.exec_id))),
      el("td", {}, badge(r.status)),
      el("td", {}, scoreBadge(r.score)),
      el("td", {}, text.length > 90 ? `${text.slice(0, 90)}…` : text, " ", toggle),
      el("td", { text: when(r.judged_at) }));
    if (!open) return [main];
    const lines = [];
    if (r.summary_text) lines.push(el("p", {}, el("strong", { text: "Summary: " }), r.summary_text));
    if (r.error_message) lines.push(el("p", {}, el("strong", { text: "Error: " }), r.error_message));
    lines.push(el("p", { class: "hint" }, `judge ${r.judge || "–"} · user ${r.user_id} · version ${r.version_id}`));
    return [main, el("tr", { class: "detail" }, el("td", { colspan: "6" }, lines))];
  }
};
