"use strict";
// Jobs page: every analytics job, newest first, with its state and a link.
(() => {
  const { api, el, copyButton, badge, usd, when, graphs } = window.execlens;
  const body = document.querySelector("#jobs-table tbody");
  const status = document.getElementById("jobs-status");
  const more = document.getElementById("jobs-more");
  const empty = document.getElementById("jobs-empty");
  let cursor = null;
  let names = new Map();

  function row(job) {
    return el("tr", {},
      el("td", { class: "id" },
        el("a", { href: `/jobs/${encodeURIComponent(job.id)}`, title: job.id }, el("code", { text: job.id.slice(0, 8) })),
        " ", copyButton(job.id, "job")),
      el("td", {}, el("a", { href: `/trends?graph_id=${encodeURIComponent(job.graph_id)}`,
        text: names.get(job.graph_id) || job.graph_id })),
      el("td", {}, badge(job.status), job.reason ? el("div", { class: "hint", text: job.reason }) : null),
      el("td", {}, el("progress", { max: "1", value: String(job.progress), "aria-label": `Progress of job ${job.id.slice(0, 8)}` }),
        ` ${job.done}/${job.total}`),
      el("td", { text: job.model }),
      el("td", { text: usd(job.cost_usd) }),
      el("td", { text: when(job.created_at) }));
  }

  async function load(reset) {
    if (reset) { cursor = null; body.replaceChildren(); }
    const page = await api("/api/analytics/jobs", { query: { status: status.value, before: cursor, limit: 50 } });
    body.append(...page.items.map(row));
    cursor = page.next_cursor;
    more.hidden = cursor === null;
    empty.hidden = body.children.length > 0;
  }

  status.addEventListener("change", () => load(true).catch((e) => window.execlens.toast(e.message)));
  more.addEventListener("click", () => load(false).catch((e) => window.execlens.toast(e.message)));
  graphs().then((items) => { names = new Map(items.map((g) => [g.graph_id, g.name])); })
    .catch(() => {})
    .then(() => load(true))
    .catch((e) => window.execlens.toast(e.message));
})();
