"use strict";
// Shared helpers of the dashboard: API calls with the session cookie, formatting, DOM.
window.execlens = (() => {
  class ApiError extends Error {
    constructor(message, status) { super(message); this.status = status; }
  }

  const csrf = () => document.querySelector('meta[name="csrf-token"]').content;

  function message(data, status) {
    if (data && typeof data.message === "string") return data.message;
    if (data && typeof data.detail === "string") return data.detail;
    return `request failed (HTTP ${status})`;
  }

  // Calls the JSON API. The browser sends the HttpOnly session cookie; unsafe methods echo
  // the CSRF token, which is what the server checks for cookie-authenticated requests.
  async function api(path, { method = "GET", body, query } = {}) {
    const url = new URL(path, location.origin);
    for (const [key, value] of Object.entries(query || {})) {
      if (value !== null && value !== undefined && value !== "") url.searchParams.set(key, value);
    }
    const headers = { Accept: "application/json" };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    if (method !== "GET") headers["X-CSRF-Token"] = csrf();
    const response = await fetch(url, {
      method, headers, credentials: "same-origin",
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    if (response.status === 401) {
      location.assign(`/login?next=${encodeURIComponent(location.pathname + location.search)}`);
      throw new ApiError("signed out", 401);
    }
    const type = response.headers.get("content-type") || "";
    const data = type.includes("json") ? await response.json() : null;
    if (!response.ok) throw new ApiError(message(data, response.status), response.status);
    return data;
  }

  // Builds an element; children are nodes or text (never parsed as HTML).
  function el(tag, attrs = {}, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs)) {
      if (value === null || value === undefined || value === false) continue;
      if (key === "class") node.className = value;
      else if (key === "text") node.textContent = value;
      else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
      else node.setAttribute(key, value === true ? "" : value);
    }
    for (const child of children.flat()) {
      if (child === null || child === undefined) continue;
      node.append(child instanceof Node ? child : String(child));
    }
    return node;
  }

  const toastBox = () => document.getElementById("toast");
  let toastTimer;
  function toast(text) {
    const box = toastBox();
    box.textContent = text;
    clearTimeout(toastTimer);
    toastTimer = setTimeout(() => { box.textContent = ""; }, 4000);
  }

  async function copy(text) {
    try {
      await navigator.clipboard.writeText(text);
      toast("Copied " + text);
    } catch {
      toast("Copy is not allowed here; the full id is " + text);
    }
  }

  function copyButton(id, label) {
    return el("button", {
      type: "button", class: "icon", "aria-label": `Copy ${label} id ${id}`, title: "Copy full id",
      onclick: () => copy(id), text: "copy",
    });
  }

  // An id as its first 8 characters (the full one in the title), a link when given one,
  // and a copy button.
  function idCell(id, label, href) {
    const code = el("code", { title: id, text: id.slice(0, 8) });
    return el("span", { class: "id" }, href ? el("a", { href }, code) : code, " ", copyButton(id, label));
  }

  const runHref = (id) => `/executions/${encodeURIComponent(id)}`;

  // The runs page filtered by ``query`` (empty values are left out).
  function runsHref(query) {
    const params = new URLSearchParams();
    for (const [key, value] of Object.entries(query)) if (value) params.set(key, value);
    return `/executions?${params}`;
  }

  const number = (n, digits = 0) => n === null || n === undefined ? "–"
    : Number(n).toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits });
  const usd = (n) => n === null || n === undefined ? "unknown"
    : "$" + Number(n).toLocaleString("en-US", { maximumFractionDigits: 4, minimumFractionDigits: 2 });
  const percent = (n, digits = 1) => n === null || n === undefined ? "–" : `${number(n, digits)} %`;

  function duration(seconds) {
    if (seconds === null || seconds === undefined) return "–";
    const s = Math.round(seconds);
    if (s < 60) return `${s} s`;
    if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
    return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
  }

  function when(iso) {
    if (!iso) return "–";
    return new Date(iso).toISOString().slice(0, 16).replace("T", " ") + " UTC";
  }

  const day = (iso) => iso ? iso.slice(0, 10) : "–";

  function badge(status) {
    return el("span", { class: `badge ${status}`, text: status });
  }

  function scoreBadge(score) {
    if (score === null || score === undefined) return el("span", { class: "hint", text: "–" });
    const band = score >= 0.8 ? "high" : score >= 0.5 ? "mid" : "low";
    return el("span", { class: `score ${band}`, title: `${band} band`, text: Number(score).toFixed(2) });
  }

  function showError(node, error) {
    node.textContent = error instanceof Error ? error.message : String(error);
    node.hidden = false;
  }

  let graphsPromise;
  // The agents with executions, loaded once per page.
  function graphs() {
    graphsPromise = graphsPromise || api("/api/graphs").then((page) => page.items);
    return graphsPromise;
  }

  return {
    ApiError, api, el, toast, copy, copyButton, idCell, runHref, runsHref, number, usd, percent, duration, when, day,
    badge, scoreBadge, showError, graphs,
  };
})();
