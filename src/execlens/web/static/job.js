"use strict";
// Job page: live progress over Server-Sent Events, cancel and resume, and the results table.
(() => {
  const { api, number, usd, duration, badge, toast, graphs } = window.execlens;
  const jobId = document.getElementById("job").dataset.jobId;
  const $ = (id) => document.getElementById(id);
  const table = new window.ResultsTable(jobId);
  const ACTIVE = new Set(["queued", "running"]);
  const path = `/api/analytics/jobs/${encodeURIComponent(jobId)}`;
  let source = null;
  let names = new Map();

  function show(job) {
    $("job-id").title = job.id;
    $("job-status").replaceWith(Object.assign(badge(job.status), { id: "job-status" }));
    $("job-agent").replaceChildren("agent ", window.execlens.el("a", {
      href: `/trends?graph_id=${encodeURIComponent(job.graph_id)}`, text: names.get(job.graph_id) || job.graph_id,
    }), job.graph_version === null ? "" : ` v${job.graph_version}`);
    $("job-reason").textContent = job.reason || "";
    $("job-reason").hidden = !job.reason;
    $("job-progress").value = job.progress;
    $("job-percent").textContent = `${Math.floor(job.progress * 100)} %`;
    $("stat-done").textContent = `${number(job.done)} of ${number(job.total)}${job.selection_done ? "" : "+"}`;
    $("stat-succeeded").textContent = number(job.succeeded);
    $("stat-failed").textContent = number(job.failed);
    $("stat-skipped").textContent = number(job.skipped);
    $("stat-rate").textContent = job.rate_per_second === null ? "–" : `${number(job.rate_per_second, 1)} /s`;
    $("stat-eta").textContent = ACTIVE.has(job.status) ? duration(job.eta_seconds) : "–";
    $("stat-limit").textContent = limitText(job.provider_limit);
    $("stat-cost").textContent = usd(job.cost_usd) + (job.max_cost_usd ? ` of ${usd(job.max_cost_usd)} cap` : "");
    $("stat-model").textContent = job.model;
    $("cancel-button").hidden = !ACTIVE.has(job.status);
    $("resume-button").hidden = !["paused", "cancelled", "failed"].includes(job.status);
  }

  // Says when the provider's rate limit holds the job back, at what limit, until when.
  function limitText(limit) {
    if (!limit) return "–";
    if (limit.limited_by === "backoff") return "waiting as the provider asked";
    const rate = limit.limited_by === "tokens" && limit.tokens_per_minute
      ? `${number(limit.tokens_per_minute)} tokens/min`
      : `${number(limit.requests_per_minute || 0)} requests/min`;
    return limit.eta_seconds ? `${rate}, ${duration(limit.eta_seconds)} left at that rate` : rate;
  }

  function follow() {
    source = new EventSource(`${path}/events`);
    source.addEventListener("progress", (e) => show(JSON.parse(e.data)));
    source.addEventListener("item", (e) => table.add([JSON.parse(e.data)]));
    source.addEventListener("end", (e) => {
      source.close();
      source = null;
      show(JSON.parse(e.data));
      toast("The job has stopped.");
      // The stream carries judged runs; the full list also holds the skipped ones.
      table.loadAll().catch((error) => toast(error.message));
    });
    // On a dropped connection EventSource reconnects by itself with Last-Event-ID.
  }

  async function act(action, button) {
    button.disabled = true;
    try {
      const job = await api(`${path}/${action}`, { method: "POST" });
      show(job);
      if (action === "resume" && !source) follow();
    } catch (error) {
      toast(error.message);
    } finally {
      button.disabled = false;
    }
  }

  $("cancel-button").addEventListener("click", (e) => act("cancel", e.currentTarget));
  $("resume-button").addEventListener("click", (e) => act("resume", e.currentTarget));

  graphs().then((items) => { names = new Map(items.map((g) => [g.graph_id, g.name])); })
    .catch(() => {})
    .then(() => api(path)).then((job) => {
    show(job);
    // A running job streams every finished result; a stopped one is read in pages.
    if (ACTIVE.has(job.status)) follow();
    else return table.loadAll();
  }).catch((error) => {
    $("job-status").textContent = "error";
    $("job-reason").textContent = error.message;
    $("job-reason").hidden = false;
  });
})();
