"use strict";
// A run's page: facts, label form and agreement, verdicts, the digest the judge reads and
// the node timeline. Run data is untrusted: it only ever goes into text nodes.
(() => {
  const { api, el, badge, scoreBadge, when, number, usd, percent, duration, showError, toast,
    graphs, ApiError } = window.execlens;
  const LONG = 200;
  const field = (id) => document.getElementById(id);
  const id = field("run").dataset.executionId;
  const base = `/api/executions/${encodeURIComponent(id)}`;

  const seconds = (from, to) => from && to ? (new Date(to) - new Date(from)) / 1000 : null;
  const pretty = (value) => typeof value === "string" ? value : JSON.stringify(value, null, 2);

  // A value as text; a long one collapsed under a summary that says how long it is.
  function value(name, data, open = false) {
    const text = pretty(data);
    const pre = el("pre", { class: "value", text });
    if (text.length <= LONG) return el("div", {}, el("strong", { text: `${name}: ` }), pre);
    return el("details", { open },
      el("summary", { text: `${name} (${number(text.length)} characters)` }), pre);
  }

  function fact(name, content) {
    return el("div", {}, el("dt", { text: name }), el("dd", {}, content));
  }

  async function showFacts(run) {
    const names = new Map((await graphs()).map((g) => [g.graph_id, g.name]));
    const s = run.stats;
    const failures = run.node_executions.filter((n) => n.status === "FAILED" || n.error).length;
    const agent = el("a", { href: `/executions?graph_id=${encodeURIComponent(run.graph_id)}`,
      text: names.get(run.graph_id) || run.graph_id });
    field("run-facts").replaceChildren(
      fact("Agent", agent), fact("Version", String(run.graph_version)),
      fact("Status", badge(run.status.toLowerCase())), fact("Score", scoreBadge(s.correctness_score)),
      fact("User", run.user_id), fact("Created", when(run.created_at)),
      fact("Started", when(run.started_at)), fact("Ended", when(run.ended_at)),
      fact("Wall time", duration(s.walltime ?? seconds(run.started_at, run.ended_at))),
      fact("Cost", s.cost === null ? "–" : usd(s.cost / 100)),
      fact("Steps", `${number(run.node_executions.length)} (${number(failures)} failed)`));
    const lines = [];
    if (s.activity_status) lines.push(el("span", {}, el("strong", { text: "Summary: " }), s.activity_status));
    if (s.error) lines.push(el("span", {}, el("strong", { text: " Error: " }), s.error));
    field("run-summary").replaceChildren(...lines);
  }

  function step(node, index) {
    const took = seconds(node.started_at, node.ended_at);
    const failed = node.status === "FAILED" || Boolean(node.error);
    return el("li", { class: failed ? "failed" : null, "data-node": node.id },
      el("p", {}, el("strong", { text: `${index + 1}. ${node.block_name || node.node_id}` }), " ",
        badge(node.status.toLowerCase()), " ",
        el("span", { class: "hint", text: `${when(node.started_at || node.queued_at)} · ${took === null ? "–" : `${number(took, 2)} s`}` })),
      node.input === null || node.input === undefined ? null : value("Input", node.input),
      node.output === null || node.output === undefined ? null : value("Output", node.output),
      node.error ? value("Error", node.error, true) : null);
  }

  function verdictRow(v) {
    const judge = v.judge === "rules" ? "rules" : `${v.provider}/${v.model}`;
    return el("tr", {},
      el("td", { text: when(v.created_at) }),
      el("td", {}, scoreBadge(v.correctness_score)),
      el("td", { text: v.activity_status }),
      el("td", { text: `${judge} · judge ${v.judge_version}` }),
      el("td", {}, el("code", { text: v.prompt_hash })),
      el("td", { text: `${number(v.input_tokens)} / ${number(v.output_tokens)}` }),
      el("td", { text: v.cost_usd === null ? "–" : usd(v.cost_usd) }),
      el("td", { text: v.latency_ms === null ? "–" : `${number(v.latency_ms)} ms` }),
      el("td", { text: v.evidence_kept === null ? "–" : percent(v.evidence_kept * 100) }));
  }

  async function showDigest(verdicts) {
    const judged = verdicts.find((v) => v.judge === "llm" && v.model);
    let digest;
    try {
      digest = await api(`${base}/digest`, { query: { model_name: judged ? judged.model : null } });
    } catch (error) {
      if (!judged || !(error instanceof ApiError) || error.status !== 422) throw error;
      digest = await api(`${base}/digest`); // that model is no longer offered: the default one
    }
    const model = digest.model ? ` for ${digest.model}` : "";
    field("digest-facts").textContent = `${number(digest.tokens)} of ${number(digest.budget)} tokens${model}`
      + ` · evidence kept ${percent(digest.evidence_kept * 100)}`
      + (digest.cuts.length ? "" : " · nothing was cut");
    field("digest-cuts").replaceChildren(...digest.cuts.map((cut) => el("li", { text: cut })));
    field("digest-text").textContent = digest.text;
  }

  async function showLabels() {
    const labels = await api(`${base}/labels`);
    field("labels-list").replaceChildren(...labels.map((l) => el("li", {},
      scoreBadge(l.score), ` ${l.labeler} · ${when(l.created_at)}`, l.note ? ` · ${l.note}` : "")));
    field("labels-empty").hidden = labels.length > 0;
    field("label-remove").hidden = labels.length === 0;
  }

  async function showAgreement() {
    const report = await api("/api/judges/agreement");
    const fixed = (n) => n === null ? "–" : number(n, 2);
    field("agreement-table").querySelector("tbody").replaceChildren(...report.judges.map((j) =>
      el("tr", {},
        el("td", { text: `${j.judge === "rules" ? "rules" : `${j.provider}/${j.model}`} · judge ${j.judge_version} · prompt ${j.prompt_hash.slice(0, 8)}` }),
        el("td", { text: number(j.n) }),
        el("td", { text: j.accuracy === null ? "–" : percent(j.accuracy * 100) }),
        el("td", { text: fixed(j.roc_auc) }),
        el("td", { text: fixed(j.mae) }))));
    field("agreement-empty").hidden = report.judges.length > 0;
  }

  async function saveLabel(score) {
    const box = field("label-error");
    box.hidden = true;
    const raw = score ?? field("label-score").value.trim();
    const note = field("label-note").value.trim();
    try {
      const score = Number(raw);
      if (raw === "" || !(score >= 0 && score <= 1)) {
        throw new Error("score: enter a score from 0 to 1, or press Pass or Fail");
      }
      await api(`${base}/label`, { method: "PUT", body: { score, note: note || null } });
      toast("Label saved");
      await Promise.all([showLabels(), showAgreement()]);
    } catch (error) { showError(box, error); }
  }

  async function removeLabel() {
    try {
      await api(`${base}/label`, { method: "DELETE" });
      toast("Label removed");
      await Promise.all([showLabels(), showAgreement()]);
    } catch (error) { showError(field("label-error"), error); }
  }

  function notFound(error) {
    const box = field("run-missing");
    box.textContent = error.status === 404
      ? `No run with id "${id}" is stored. Check the id, or find the run on the Runs page.`
      : `The run could not be loaded: ${error.message}`;
    box.hidden = false;
  }

  async function load() {
    let run;
    try { run = await api(base); } catch (error) { notFound(error); return; }
    field("run-body").hidden = false;
    field("timeline").replaceChildren(...run.node_executions.map(step));
    field("timeline-empty").hidden = run.node_executions.length > 0;
    const verdicts = await api(`${base}/verdicts`);
    field("verdicts-table").querySelector("tbody").replaceChildren(...verdicts.map(verdictRow));
    field("verdicts-empty").hidden = verdicts.length > 0;
    await Promise.all([showFacts(run), showLabels(), showAgreement(),
      showDigest(verdicts).catch((e) => { field("digest-facts").textContent = e.message; })]);
  }

  field("label-form").addEventListener("submit", (event) => { event.preventDefault(); saveLabel(); });
  field("label-pass").addEventListener("click", () => saveLabel(1));
  field("label-fail").addEventListener("click", () => saveLabel(0));
  field("label-remove").addEventListener("click", removeLabel);
  load().catch((e) => toast(e.message));
})();
