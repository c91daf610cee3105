// The kcost dashboard: reads the status API with the caller's bearer token (or none, behind
// `kubectl cost dashboard`, whose proxy adds it), draws SVG charts, and follows /api/v1/events.
// Every URL is relative, so the page works under the proxy's secret path prefix too.
"use strict";

const RESOURCES = ["cpu", "memory", "gpu", "storage", "network", "idle"];
const SVG = "http://www.w3.org/2000/svg";
const TOKEN_KEY = "kcost-token";
const recommendations = new Map(); // "namespace/name" -> object
let profiles = [];
let currency = "USD";

const $ = (id) => document.getElementById(id);

function money(amount) {
  if (amount == null) return "—"; // not known yet, which is not the same as zero
  return new Intl.NumberFormat(undefined, { style: "currency", currency, maximumFractionDigits: 0 }).format(amount);
}

function headers(extra = {}) {
  const token = sessionStorage.getItem(TOKEN_KEY);
  return token ? { ...extra, Authorization: `Bearer ${token}` } : extra;
}

class ApiError extends Error {
  constructor(status, detail) { super(detail); this.status = status; }
}

async function api(path, options = {}) {
  const response = await fetch(path, { ...options, headers: headers(options.headers) });
  const body = await response.json().catch(() => ({}));
  if (response.status === 401) askForToken(body.detail);
  if (!response.ok) throw new ApiError(response.status, body.detail || response.statusText);
  return body;
}

function askForToken(detail) {
  $("login").hidden = false;
  showError(detail || "the status API needs a bearer token");
}

function showError(message) {
  $("error").textContent = message;
  $("error").hidden = !message;
}

function el(tag, attributes = {}, ...children) {
  const node = tag.startsWith("svg:") ? document.createElementNS(SVG, tag.slice(4)) : document.createElement(tag);
  for (const [key, value] of Object.entries(attributes)) {
    if (key === "text") node.textContent = value;
    else node.setAttribute(key, value);
  }
  node.append(...children);
  return node;
}

function legend(entries) {
  return el("div", { class: "legend" },
    ...entries.map(([label, color]) => el("span", {}, el("i", { style: `background:${color}` }), label)));
}

// --- charts -------------------------------------------------------------------------------

function stackedBars(days) {
  const width = 900, height = 240, left = 56, bottom = 22, top = 10;
  const max = Math.max(...days.map((d) => d.total), 1);
  const slot = (width - left) / days.length;
  const svg = el("svg:svg", { viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": "cost per day" });
  for (const fraction of [0, 0.5, 1]) {
    const y = top + (height - bottom - top) * (1 - fraction);
    svg.append(el("svg:line", { x1: left, x2: width, y1: y, y2: y, stroke: "#e3e6eb" }));
    svg.append(el("svg:text", { x: left - 6, y: y + 4, "text-anchor": "end", text: money(max * fraction) }));
  }
  days.forEach((day, index) => {
    let y = height - bottom;
    const x = left + index * slot + slot * 0.15;
    for (const resource of RESOURCES) {
      const h = ((day[resource] || 0) / max) * (height - bottom - top);
      if (h <= 0) continue;
      y -= h;
      const bar = el("svg:rect", {
        class: `bar ${resource}`, x, y, width: slot * 0.7, height: h, fill: `var(--${resource})`,
      });
      bar.append(el("svg:title", { text: `${day.date} ${resource}: ${money(day[resource])}` }));
      svg.append(bar);
    }
    if (index % Math.ceil(days.length / 8) === 0) {
      svg.append(el("svg:text", { x: x + slot * 0.35, y: height - 6, "text-anchor": "middle", text: day.date.slice(5) }));
    }
  });
  return svg;
}

function horizontalBars(rows, colorOf) {
  const width = 420, rowHeight = 26, label = 130;
  const max = Math.max(...rows.map((r) => r.value), 1);
  const svg = el("svg:svg", { viewBox: `0 0 ${width} ${rows.length * rowHeight + 4}`, role: "img" });
  rows.forEach((row, index) => {
    const y = index * rowHeight + 4;
    const w = (row.value / max) * (width - label - 70);
    svg.append(el("svg:text", { x: label - 6, y: y + 15, "text-anchor": "end", text: row.label }));
    svg.append(el("svg:rect", { class: "bar", x: label, y, width: Math.max(w, 1), height: rowHeight - 8, rx: 3, fill: colorOf(row) }));
    svg.append(el("svg:text", { class: "value", x: label + w + 6, y: y + 15, text: money(row.value) }));
  });
  return svg;
}

function draw(id, node, legendEntries) {
  const target = $(id);
  target.replaceChildren(node);
  if (legendEntries) target.append(legend(legendEntries));
}

function empty(id, message) {
  $(id).replaceChildren(el("p", { class: "empty", text: message }));
}

// --- sections -----------------------------------------------------------------------------

async function loadHistory() {
  const to = new Date();
  const from = new Date(to.getTime() - 29 * 86400e3);
  const day = (d) => d.toISOString().slice(0, 10);
  let history;
  try {
    history = await api(`api/v1/costs/history?groupBy=cluster&step=day&from=${day(from)}&to=${day(to)}`);
  } catch (error) {
    // 503: no history store configured; 422: several profiles. The rest of the page still works.
    if ([403, 422, 503].includes(error.status)) return empty("history-chart", error.message);
    throw error;
  }
  if (!history.points.length) return empty("history-chart", "no cost history in the last 30 days yet");
  const byDate = new Map(history.points.map((p) => [p.periodStart, p]));
  // Every day of the range, so that days without history show as gaps on an honest time axis.
  const days = [];
  for (let d = new Date(`${history.startDay}T00:00:00Z`); day(d) <= history.endDay; d = new Date(d.getTime() + 86400e3)) {
    const p = byDate.get(day(d)) || {};
    days.push({
      date: day(d), cpu: p.cpuUsd || 0, memory: p.memoryUsd || 0, gpu: p.gpuUsd || 0, storage: p.storageUsd || 0,
      network: p.networkUsd || 0, idle: p.idleUsd || 0, total: p.totalUsd || 0,
    });
  }
  draw("history-chart", stackedBars(days), RESOURCES.map((r) => [r, `var(--${r})`]));
}

async function loadCurrent() {
  try {
    profiles = (await api("api/v1/costs/current")).items;
  } catch (error) {
    // 403: the current cost is cluster-wide; a user of one namespace still gets the rest of the page.
    if (error.status !== 403) throw error;
    empty("namespaces-chart", error.message);
    return $("current").replaceChildren(el("p", { class: "empty", text: "the cluster's cost is not visible to you" }));
  }
  renderCurrent();
}

function renderCurrent() {
  const profile = profiles[0];
  if (!profile) return empty("namespaces-chart", "no ClusterCostProfile yet");
  currency = profile.currency || "USD";
  $("cluster").textContent = profile.profile;
  const status = profile.status || {};
  const monthly = status.monthlyCost || {};
  const facts = [
    ["Per month", money(monthly.total)],
    ["Idle per month", money(monthly.idle)],
    ["Month to date", money(status.monthToDateCost)],
    ["Projected month", money(status.projectedMonthlyCost)],
    ["Nodes", String((status.nodes || []).reduce((sum, n) => sum + n.count, 0))],
  ];
  $("current").replaceChildren(...facts.flatMap(([k, v]) => [el("dt", { text: k }), el("dd", { text: v })]));
  const top = (status.topNamespaces || []).slice(0, 8).map((n) => ({ label: n.namespace, value: n.monthlyCost }));
  if (top.length) draw("namespaces-chart", horizontalBars(top, () => "var(--cpu)"));
  else empty("namespaces-chart", "no namespace costs yet");
}

async function loadRecommendations() {
  recommendations.clear();
  let cursor = "";
  do {
    const page = await api(`api/v1/recommendations?limit=500${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`);
    for (const item of page.items) recommendations.set(key(item), item);
    cursor = page.nextCursor;
  } while (cursor);
  await loadPermissions();
  renderRecommendations();
}

// namespace -> {approve, reject, rollback}: what RBAC lets this user decide there.
const permissions = new Map();

async function loadPermissions() {
  const unknown = new Set([...recommendations.values()].map((i) => i.metadata.namespace).filter((ns) => !permissions.has(ns)));
  await Promise.all([...unknown].map(async (namespace) => {
    permissions.set(namespace, await api(`api/v1/permissions/${encodeURIComponent(namespace)}`));
  }));
}

const key = (item) => `${item.metadata.namespace}/${item.metadata.name}`;
const phaseOf = (item) => (item.status && item.status.phase) || "Proposed";
// A decision made but not yet acted on by the operator (the phase is still Proposed).
const decisionOf = (item) => {
  const approval = item.spec.approval || {};
  if (approval.approved) return "approved";
  if (approval.rejected) return "rejected";
  return "";
};

function renderRecommendations() {
  const items = [...recommendations.values()].sort(
    (a, b) => b.spec.estimatedMonthlySavings - a.spec.estimatedMonthlySavings);
  const rows = items.map((item) => {
    const phase = phaseOf(item);
    const decision = decisionOf(item);
    const row = el("tr", { "data-key": key(item), "data-phase": phase, "data-decision": decision },
      el("td", { text: item.metadata.namespace }),
      el("td", { text: item.metadata.name }),
      el("td", { text: item.spec.type }),
      el("td", { class: "num", text: money(item.spec.estimatedMonthlySavings) }),
      el("td", { class: "num", text: `${Math.round(item.spec.confidence * 100)}%` }),
      el("td", { text: item.spec.riskLevel }),
      el("td", {}, el("span", { class: `phase ${phase}`, text: phase })),
      el("td", {}, evidence(item.spec.evidence || {})),
      el("td", {}, ...actions(item, phase)));
    return row;
  });
  $("recommendations").tBodies[0].replaceChildren(...rows);
  renderSavings(items);
  renderRollouts(items);
}

function evidence(found) {
  const lines = [
    found.method,
    found.window && `window ${found.window}, ${found.sampleCount} samples`,
    ...(found.containers || []).map((c) => {
      const cpu = c.cpuCores && c.cpuCores.p95 != null ? `cpu p95 ${c.cpuCores.p95.toFixed(3)} cores` : "";
      const memory = c.memoryBytes && c.memoryBytes.p95 != null ? `memory p95 ${(c.memoryBytes.p95 / 2 ** 20).toFixed(0)} MiB` : "";
      return `${c.name}: ${[cpu, memory].filter(Boolean).join(", ")}${c.oomEvents ? `, ${c.oomEvents} OOM` : ""}`;
    }),
    ...(found.notes || []),
  ].filter(Boolean);
  return el("details", {}, el("summary", { text: found.method ? found.method.split("(")[0] : "evidence" }),
    el("ul", {}, ...lines.map((line) => el("li", { text: line }))));
}

// Buttons are shown for proposals where RBAC allows the decision; a 403 all the same (an approval
// policy, say) replaces them with the reason for that namespace.
const deniedNamespaces = new Map();

function actions(item, phase) {
  const namespace = item.metadata.namespace;
  const decision = decisionOf(item);
  if (decision) {
    const by = (item.spec.approval || {}).approvedBy;
    return [el("span", { class: "decided", text: `${decision}${by ? ` by ${by}` : ""}` })];
  }
  const allowed = permissions.get(namespace) || {};
  if (phase !== "Proposed") return [];
  if (deniedNamespaces.has(namespace)) return [el("span", { class: "denied", text: deniedNamespaces.get(namespace) })];
  const buttons = [];
  if (allowed.approve) buttons.push(el("button", { class: "approve", type: "button", text: "Approve" }));
  if (allowed.reject) buttons.push(el("button", { class: "reject", type: "button", text: "Reject" }));
  for (const button of buttons) button.onclick = () => decide(item, button.className, buttons);
  return buttons;
}

async function decide(item, verb, buttons) {
  buttons.forEach((b) => { b.disabled = true; });
  try {
    const updated = await api(`api/v1/recommendations/${item.metadata.namespace}/${item.metadata.name}/${verb}`, {
      method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ reason: "from the dashboard" }),
    });
    recommendations.set(key(updated), updated);
    showError("");
  } catch (error) {
    if (error.status === 403) deniedNamespaces.set(item.metadata.namespace, `not allowed: ${error.message}`);
    else showError(`${verb} ${key(item)}: ${error.message}`);
  }
  renderRecommendations();
}

function renderSavings(items) {
  const open = new Set(["Proposed", "Approved", "Applying"]);
  const potential = items.filter((i) => open.has(phaseOf(i))).reduce((s, i) => s + i.spec.estimatedMonthlySavings, 0);
  const realized = items.reduce((s, i) => s + ((i.status && i.status.realized && i.status.realized.monthlySavingsUsd) || 0), 0);
  const estimated = items.filter((i) => phaseOf(i) === "Applied").reduce((s, i) => s + i.spec.estimatedMonthlySavings, 0);
  const rows = [
    { label: "potential", value: potential, color: "var(--potential)" },
    { label: "applied (estimated)", value: estimated, color: "var(--memory)" },
    { label: "realized (measured)", value: realized, color: "var(--realized)" },
  ];
  draw("savings-chart", horizontalBars(rows, (r) => r.color));
}

function renderRollouts(items) {
  const rolling = items.filter((i) => i.status && i.status.rollout);
  const rows = rolling.map((item) => {
    const rollout = item.status.rollout;
    const last = (rollout.observations || []).slice(-1)[0];
    return el("tr", { "data-key": key(item) },
      el("td", { text: key(item) }),
      el("td", {}, el("span", { class: `phase ${phaseOf(item)}`, text: phaseOf(item) })),
      el("td", { text: rollout.stage || "" }),
      el("td", { text: String(rollout.step) }),
      el("td", { text: last ? `${last.healthy ? "healthy" : "unhealthy"}: ${last.message}` : "" }));
  });
  if (!rows.length) rows.push(el("tr", {}, el("td", { colspan: 5, class: "empty", text: "no rollout in progress" })));
  $("rollouts").tBodies[0].replaceChildren(...rows);
}

// --- live updates -------------------------------------------------------------------------

function setLive(state, text) {
  $("live").dataset.state = state;
  $("live").textContent = text;
}

function apply(change) {
  if (change.kind === "OptimizationRecommendation") {
    if (change.type === "DELETED") recommendations.delete(key(change.object));
    else recommendations.set(key(change.object), change.object);
    loadPermissions().catch((error) => showError(error.message)).finally(renderRecommendations);
  } else if (change.kind === "ClusterCostProfile") {
    loadCurrent().catch((error) => showError(error.message));
  }
}

// EventSource cannot send an Authorization header, so the stream is read with fetch.
async function follow() {
  for (;;) {
    try {
      const response = await fetch("api/v1/events", { headers: headers() });
      if (!response.ok) throw new ApiError(response.status, response.statusText);
      setLive("live", "live");
      const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
      let buffer = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += value;
        let end;
        while ((end = buffer.indexOf("\n\n")) >= 0) {
          const message = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const data = message.split("\n").filter((l) => l.startsWith("data: ")).map((l) => l.slice(6)).join("\n");
          if (data) apply(JSON.parse(data));
        }
      }
      // The server ended the stream (it fell behind): read everything again, then follow again.
      await loadRecommendations();
    } catch (error) {
      if (error.status === 401) return;
    }
    setLive("offline", "reconnecting…");
    await new Promise((resolve) => setTimeout(resolve, 3000));
  }
}

async function start() {
  try {
    await Promise.all([loadCurrent(), loadHistory(), loadRecommendations()]);
    $("login").hidden = true;
    showError("");
    follow();
  } catch (error) {
    setLive("offline", "offline");
    if (error.status !== 401) showError(error.message);
  }
}

$("login").addEventListener("submit", (event) => {
  event.preventDefault();
  sessionStorage.setItem(TOKEN_KEY, $("token").value.trim());
  start();
});

start();
