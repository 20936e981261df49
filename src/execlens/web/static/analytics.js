"use strict";
// Analytics page: pick an agent and a model, estimate the job, then start it.
(() => {
  const { api, el, number, usd, showError, graphs } = window.execlens;
  const form = document.getElementById("job-form");
  const field = (id) => document.getElementById(id);
  const errorBox = field("form-error");
  const estimateBox = field("estimate");
  const startButton = field("start-button");
  let defaults = {};
  let byId = new Map();

  async function loadGraphs() {
    const items = await graphs();
    byId = new Map(items.map((g) => [g.graph_id, g]));
    field("graph-options").replaceChildren(...items.map((g) =>
      el("option", { value: g.graph_id, label: `${g.name} · ${number(g.executions)} runs` })));
    const wanted = new URLSearchParams(location.search).get("graph_id");
    if (wanted) field("graph_id").value = wanted;
    describeGraph();
  }

  // Accepts an id, or a name typed in full (case-insensitive).
  function chosenGraph() {
    const text = field("graph_id").value.trim();
    if (byId.has(text)) return byId.get(text);
    const lower = text.toLowerCase();
    return [...byId.values()].find((g) => g.name.toLowerCase() === lower) || null;
  }

  function describeGraph() {
    const graph = chosenGraph();
    field("graph-info").textContent = graph
      ? `${graph.name}: ${number(graph.executions)} runs (${number(graph.scored)} scored), newest version ${graph.latest_version}`
      : "";
  }

  async function loadConfig() {
    const config = await api("/api/executions/admin/execution_analytics/config");
    defaults = { system_prompt: config.default_system_prompt, user_prompt: config.default_user_prompt };
    field("system_prompt").value = defaults.system_prompt;
    field("user_prompt").value = defaults.user_prompt;
    const options = config.available_models.map((m) =>
      el("option", { value: m.value, selected: m.value === config.recommended_model, text: m.label }));
    const disabled = config.unavailable_models.map((m) =>
      el("option", { value: m.value, disabled: true, text: `${m.label} (unavailable: ${m.reason})` }));
    const select = field("model_name");
    select.replaceChildren(
      el("optgroup", { label: "Available" }, options),
      disabled.length ? el("optgroup", { label: "Not configured" }, disabled) : null);
    if (!options.length) showError(errorBox, "No judge model is configured: set an LLM provider key.");
  }

  // datetime-local gives "YYYY-MM-DDTHH:MM" (seconds optional); the form says it is UTC.
  const utc = (value) => value ? `${value.length === 16 ? `${value}:00` : value}Z` : null;
  const int = (value) => value === "" ? null : Number.parseInt(value, 10);

  function body() {
    const graph = chosenGraph();
    if (!graph) throw new Error("Agent: pick one from the list (by name or id).");
    const request = {
      graph_id: graph.graph_id,
      graph_version: int(field("graph_version").value),
      user_id: field("user_id").value.trim() || null,
      created_after: utc(field("created_after").value),
      created_before: utc(field("created_before").value),
      model_name: field("model_name").value || null,
      skip_existing: field("skip_existing").checked,
      concurrency: int(field("concurrency").value),
      max_cost_usd: field("max_cost_usd").value === "" ? null : Number(field("max_cost_usd").value),
      limit: int(field("limit").value),
    };
    // Only changed prompts are sent: default ones keep the job's verdicts comparable.
    for (const name of ["system_prompt", "user_prompt"]) {
      const value = field(name).value;
      if (value !== defaults[name]) request[name] = value;
    }
    return request;
  }

  function invalidate() {
    startButton.disabled = true;
    estimateBox.hidden = true;
  }

  async function estimate() {
    errorBox.hidden = true;
    invalidate();
    try {
      const result = await api("/api/analytics/jobs/estimate", { method: "POST", body: body() });
      const cost = result.cost_usd === null ? "unknown (no price for this model)" : usd(result.cost_usd);
      estimateBox.replaceChildren(
        el("h2", { text: "Estimate" }),
        el("p", {},
          el("strong", { text: `${number(result.to_judge)} runs to judge` }),
          ` of ${number(result.matching_executions)} matching finished runs with ${result.model}. `,
          `Estimated cost: `, el("strong", { id: "estimate-cost", text: cost }),
          ` (about ${number(result.input_tokens)} input and ${number(result.output_tokens)} output tokens; `,
          `${number(result.judged_by_rules * 100)} % of the sample settled by rules at $0).`));
      estimateBox.hidden = false;
      startButton.disabled = false;
    } catch (error) {
      showError(errorBox, error);
    }
  }

  async function start(event) {
    event.preventDefault();
    errorBox.hidden = true;
    startButton.disabled = true;
    try {
      const accepted = await api("/api/analytics/jobs", { method: "POST", body: body() });
      location.assign(`/jobs/${encodeURIComponent(accepted.job_id)}`);
    } catch (error) {
      showError(errorBox, error);
      startButton.disabled = false;
    }
  }

  form.addEventListener("input", (event) => {
    if (event.target.id === "graph_id") describeGraph();
    invalidate();
  });
  form.addEventListener("submit", start);
  field("estimate-button").addEventListener("click", estimate);
  for (const button of form.querySelectorAll("[data-reset]")) {
    button.addEventListener("click", () => {
      field(button.dataset.reset).value = defaults[button.dataset.reset] || "";
      invalidate();
    });
  }
  Promise.all([loadGraphs(), loadConfig()]).catch((error) => showError(errorBox, error));
})();
