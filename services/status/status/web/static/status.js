// ebs status page: reads the HTTP/JSON API (grpc-gateway, /v1) and updates
// live from the batch event stream /v1/events, polling only as a fallback.
// Plain DOM, no build step; every value goes in through textContent.
"use strict";

const KOJI = document.body.dataset.kojiWeb || "";
const PHASES = ["RESOLVING", "SEEDING", "BUILDING", "COLLECTING", "PROMOTING", "PUBLISHING", "WAITING_STABLE", "CLEANING_UP", "COMPLETED"];

function el(tag, attrs, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "class") e.className = v;
    else if (k === "onclick") e.addEventListener("click", v);
    else e.setAttribute(k, v);
  }
  for (const k of kids.flat()) {
    if (k === undefined || k === null || k === false) continue;
    e.append(k instanceof Node ? k : document.createTextNode(String(k)));
  }
  return e;
}
function $(id) { return document.getElementById(id); }
function replace(id, ...kids) { const e = $(id); e.replaceChildren(...kids.flat()); }

function enumName(v, prefix) { return (v || "").replace(prefix, ""); }
function phaseName(p) { return enumName(p, "BATCH_PHASE_"); }
function stateName(s) { return enumName(s, "PACKAGE_STATE_").toLowerCase().replace(/_/g, "-"); }
function resultName(r) { return enumName(r, "BATCH_RESULT_"); }
function badge(text, cls) { return el("span", { class: "badge " + (cls || text) }, text); }
function when(ts) {
  if (!ts) return "";
  const d = new Date(ts);
  return d.toISOString().replace("T", " ").replace(/\.\d+Z$/, "Z");
}
function ago(ts) {
  if (!ts) return "";
  const s = Math.max(0, (Date.now() - new Date(ts).getTime()) / 1000);
  if (s < 90) return Math.round(s) + " s ago";
  if (s < 5400) return Math.round(s / 60) + " min ago";
  if (s < 172800) return (s / 3600).toFixed(1) + " h ago";
  return Math.round(s / 86400) + " d ago";
}
function duration(a, b) {
  if (!a) return "";
  const s = ((b ? new Date(b) : new Date()) - new Date(a)) / 1000;
  if (s < 3600) return Math.round(s / 60) + " min";
  return (s / 3600).toFixed(1) + " h";
}
function taskLink(id) {
  if (!id || id === "0") return null;
  return el("a", { href: KOJI + "/taskinfo?taskID=" + id, target: "_blank", rel: "noopener", class: "mono" }, id);
}
function updateLink(alias, url) {
  if (!alias) return null;
  return el("a", { href: url || ("https://bodhi.fedoraproject.org/updates/" + alias), target: "_blank", rel: "noopener" }, alias);
}
function pkgLink(name) {
  return el("a", { href: "#package=" + encodeURIComponent(name), class: "pkg" }, name);
}
function table(headers, rows, cls) {
  return el("table", { class: cls }, el("thead", {}, el("tr", {}, headers.map(h => el("th", {}, h)))),
    el("tbody", {}, rows.map(r => el("tr", {}, r.map(c => el("td", {}, c))))));
}

async function api(path) {
  const r = await fetch(path, { credentials: "same-origin", headers: { "Accept": "application/json" } });
  if (!r.ok) {
    let msg = r.status + " " + r.statusText;
    try { const j = await r.json(); if (j.message) msg = j.message; } catch (e) { /* not JSON */ }
    const err = new Error(msg); err.status = r.status; throw err;
  }
  return r.json();
}

function renderPhases(current) {
  const cur = PHASES.indexOf(phaseName(current));
  return el("div", { class: "phases" }, PHASES.map((p, i) =>
    el("span", { class: i < cur ? "done" : (i === cur ? "current" : "") }, p.toLowerCase().replace("_", " "))));
}

function packageRows(pkgs) {
  return pkgs.map(p => {
    const tasks = (p.taskIds || []).map(taskLink);
    const taskCell = tasks.length ? tasks.flatMap((t, i) => i ? [" → ", t] : [t]) : (p.taskId && p.taskId !== "0" ? [taskLink(p.taskId)] : [""]);
    return [pkgLink(p.component), String(p.ordering), badge(stateName(p.state)), String(p.attempts || 0),
      el("span", {}, taskCell), el("span", { class: "mono" }, p.nvr || ""), updateLink(p.bodhiUpdateAlias, p.bodhiUpdateUrl) || "",
      el("span", { class: "small" }, p.reason || "")];
  });
}

function renderBatchDetail(d, running) {
  const s = d.summary;
  const kids = [];
  kids.push(el("div", { class: "meta" },
    el("span", {}, "batch ", el("b", { class: "mono", id: running ? "running-batch-id" : null }, s.batchId)),
    el("span", {}, "phase ", el("b", { id: running ? "running-phase" : null }, phaseName(s.phase).toLowerCase().replace("_", " "))),
    s.phaseDetail ? el("span", {}, s.phaseDetail) : null,
    el("span", {}, "side tag ", el("b", { class: "mono" }, s.buildSideTag || "—")),
    el("span", {}, "started ", el("b", {}, when(s.startedAt)), " (" + duration(s.startedAt, s.completedAt) + ")"),
    s.completedAt ? el("span", {}, "result ", badge(resultName(s.result))) : null,
    el("span", {}, el("b", {}, String(s.built)), " built · ", el("b", {}, String(s.failed)), " failed · ",
      el("b", {}, String(s.packages)), " packages"),
    d.options && d.options.scratch ? badge("scratch", "pending") : null));
  if (running) kids.push(renderPhases(s.phase));
  if (d.slices && d.slices.length) {
    kids.push(el("div", { class: "slices" }, d.slices.map(sl => el("div", { class: "slice" + (running && sl.slice === s.currentSlice && sl.state === "running" ? " current" : "") },
      el("div", { class: "title" }, "slice " + sl.slice + " · ordering " + sl.ordering + " ", badge(sl.state)),
      el("div", { class: "small muted" }, (sl.components || []).join(", ")),
      el("div", { class: "small" }, (sl.attempts || []).length + " attempt(s)")))));
  }
  kids.push(table(["package", "ordering", "state", "attempts", "Koji tasks", "NVR", "Bodhi", "reason"], packageRows(d.packages || []), "packages"));
  if (d.updates && d.updates.length) {
    kids.push(el("h3", {}, "Bodhi updates"));
    kids.push(table(["update", "status", "from tag", "builds"], d.updates.map(u =>
      [updateLink(u.alias, u.url), badge(u.status || "pending", u.status), el("span", { class: "mono" }, u.fromTag), String((u.nvrs || []).length)])));
  }
  return kids;
}

function renderStatus(st) {
  replace("card-batch", st.running ? st.running.batchId : "idle");
  replace("card-phase", st.running ? phaseName(st.running.phase).toLowerCase().replace("_", " ") : "—");
  replace("card-pending", String((st.pending || []).length));
  replace("card-denylisted", String(st.denylisted || 0));
  replace("card-deadletters", String(st.deadLetters || 0));
  replace("card-updated", when(st.generatedAt));
  const pb = $("pause-banner");
  if (st.paused) {
    const c = st.control || {};
    pb.hidden = false;
    pb.textContent = "Batches are PAUSED (" + st.pauseSource + ")" + (c.changedBy ? " by " + c.changedBy : "") +
      (c.reason ? ": " + c.reason : "") + (c.changedAt ? " since " + when(c.changedAt) : "") +
      ". New requests wait in the queue; a running batch finishes.";
  } else pb.hidden = true;

  if (st.runningDetail) replace("running-body", renderBatchDetail(st.runningDetail, true));
  else replace("running-body", el("p", { class: "muted" }, "No batch is running." +
    (st.lastCompleted ? " Last batch " + st.lastCompleted.batchId + " completed " + ago(st.lastCompleted.completedAt) + "." : "")));

  const pend = st.pending || [];
  replace("pending-body", pend.length ? table(["#", "package", "build", "ordering", "why", "by", "waiting since"],
    pend.map(p => [String(p.position), pkgLink(p.request.component), el("span", { class: "mono" }, p.request.nvr),
      String(p.request.ordering), enumName(p.request.reason, "REQUEST_REASON_").toLowerCase(), p.request.requestedBy || "",
      when(p.pendingSince) + " (" + ago(p.pendingSince) + ")"]), "pending")
    : el("p", { class: "muted" }, "The queue is empty."));

  const recent = st.recent || [];
  replace("batches-body", recent.length ? table(["batch", "result", "phase", "started", "duration", "built", "failed", "skipped", "side tag"],
    recent.map(b => [el("span", { class: "clickable mono", onclick: () => showBatch(b.batchId) }, b.batchId),
      b.completedAt ? badge(resultName(b.result)) : badge("running"), phaseName(b.phase).toLowerCase(), when(b.startedAt),
      duration(b.startedAt, b.completedAt), String(b.built), String(b.failed), String(b.skipped), el("span", { class: "mono" }, b.buildSideTag)]))
    : el("p", { class: "muted" }, "No batches yet."));

  const fails = st.recentFailures || [];
  replace("failures-body", fails.length ? table(["package", "state", "tasks", "SCM URL", "reason", "denylisted"],
    fails.map(f => [pkgLink(f.component), badge(stateName(f.state)), el("span", {}, (f.taskIds || []).map(taskLink).flatMap((t, i) => i ? [" ", t] : [t])),
      el("span", { class: "mono small" }, f.scmUrl), el("span", { class: "small" }, f.reason), f.denylisted ? badge("denylisted") : ""]))
    : el("p", { class: "muted" }, "No failures in recent batches."));
}

async function showBatch(id) {
  try {
    const d = await api("/v1/batches/" + encodeURIComponent(id));
    replace("batch-detail", el("h3", {}, "Batch " + id), renderBatchDetail(d, false));
    $("batch-detail").scrollIntoView({ behavior: "smooth" });
  } catch (e) { replace("batch-detail", el("p", { class: "muted" }, "Batch " + id + ": " + e.message)); }
}

async function loadDenylist() {
  try {
    const d = await api("/v1/denylist");
    const e = d.entries || [];
    replace("denylist-body", e.length ? table(["SCM URL", "package", "batch", "since", "reason"], e.map(x =>
      [el("span", { class: "mono small" }, x.scmUrl), pkgLink(x.component), el("span", { class: "clickable mono", onclick: () => showBatch(x.batchId) }, x.batchId),
        when(x.at), el("span", { class: "small" }, x.reason)])) : el("p", { class: "muted" }, "Nothing is denylisted."));
  } catch (e) { replace("denylist-body", el("p", { class: "muted" }, e.message)); }
}

const KINDS_OK = ["built", "stable", "update-created"], KINDS_BAD = ["failed", "timed-out", "denylisted", "rejected", "submit-failed"];
async function showHistory(name) {
  $("search-input").value = name;
  try {
    const h = await api("/v1/packages/" + encodeURIComponent(name) + "/history");
    const kids = [el("h3", { id: "history-title" }, "History of " + h.component)];
    if (h.pending) kids.push(el("p", {}, badge("pending", "pending"), " waiting in the queue at position " + h.pending.position +
      " since " + when(h.pending.pendingSince) + " (" + h.pending.request.nvr + ")."));
    if (h.latest) kids.push(el("p", {}, "Latest outcome: ", badge(stateName(h.latest.state)), " ", h.latest.nvr || h.latest.sourceNvr || "",
      h.latest.reason ? " — " + h.latest.reason : "", h.latest.denylisted ? " (SCM URL denylisted)" : ""));
    kids.push(table(["when", "what", "detail", "batch", "NVR", "links"], (h.entries || []).slice().reverse().map(e => {
      const cls = KINDS_OK.includes(e.kind) ? "succeeded" : KINDS_BAD.includes(e.kind) ? "failed" : "";
      const links = [];
      if (e.taskId && e.taskId !== "0") links.push(taskLink(e.taskId));
      if (e.bodhiUpdateAlias) links.push(" ", updateLink(e.bodhiUpdateAlias));
      return [el("span", { class: "when" }, when(e.at)), badge(e.kind, cls), el("span", { class: "small" }, e.detail),
        e.batchId ? el("span", { class: "clickable mono small", onclick: () => showBatch(e.batchId) }, e.batchId) : "",
        el("span", { class: "mono small" }, e.nvr), el("span", {}, links)];
    }), "timeline"));
    replace("history", kids);
  } catch (e) {
    replace("history", el("p", { class: "muted" }, e.status === 404 ? "ebs has no record of " + name + "." : e.message));
  }
}

async function search(q) {
  try {
    const r = await api("/v1/packages?query=" + encodeURIComponent(q) + "&limit=30");
    const ps = r.packages || [];
    replace("search-results", ps.length ? el("div", { class: "results" }, ps.map(p =>
      el("a", { href: "#package=" + encodeURIComponent(p.component) }, p.component, " ", el("span", { class: "muted small" }, p.lastKind)))) :
      el("p", { class: "muted" }, "No package matches " + q + "."));
    if (ps.length && ps[0].component === q) showHistory(q);
  } catch (e) { replace("search-results", el("p", { class: "muted" }, e.message)); }
}

$("search-form").addEventListener("submit", ev => {
  ev.preventDefault();
  const q = $("search-input").value.trim();
  if (q) { location.hash = "package=" + encodeURIComponent(q); search(q); }
});
window.addEventListener("hashchange", route);
function route() {
  const m = location.hash.match(/^#package=(.+)$/);
  if (m) { const n = decodeURIComponent(m[1]); showHistory(n); $("search").scrollIntoView(); }
}

// Refreshing the status: refresh() never runs twice at once (a call during
// one makes it run once more afterwards, so the last render is the newest
// status) and re-arms the fallback poll after each run.
let refreshing = false, refreshAgain = false, pollTimer = null;
async function refresh() {
  if (refreshing) { refreshAgain = true; return; }
  refreshing = true;
  try {
    do {
      refreshAgain = false;
      try {
        renderStatus(await api("/v1/status"));
        $("error-banner").hidden = true;
        document.body.dataset.loaded = "true";
      } catch (e) {
        const b = $("error-banner"); b.hidden = false; b.textContent = "Cannot load the status: " + e.message + " (retrying)";
      }
    } while (refreshAgain);
  } finally {
    refreshing = false;
    schedulePoll();
  }
}

// The fallback poll: every POLL_DOWN ms while the event stream is down,
// every POLL_LIVE ms while it is up (the stream carries batch events only;
// the queue, the pause and the denylist change without one). ?poll=<ms>
// sets POLL_DOWN, and POLL_LIVE to at least that: ?poll=600000 leaves the
// stream as the only way the page updates (the browser test uses it).
const POLL_PARAM = Number(new URLSearchParams(location.search).get("poll"));
const POLL_DOWN = POLL_PARAM > 0 ? POLL_PARAM : 5000;
const POLL_LIVE = Math.max(POLL_DOWN, 30000);
function schedulePoll() {
  clearTimeout(pollTimer);
  pollTimer = setTimeout(refresh, liveState === "live" ? POLL_LIVE : POLL_DOWN);
}

// An event refreshes the status after DEBOUNCE ms; events arriving in the
// meantime join that refresh (a burst of attempt events is one request, and
// a steady flow of events cannot postpone it forever).
const DEBOUNCE = 250;
let debounceTimer = null;
function onEvent() {
  if (debounceTimer === null) debounceTimer = setTimeout(() => { debounceTimer = null; refresh(); }, DEBOUNCE);
}

function secs(ms) { return Math.round(ms / 1000) + " s"; }
let liveState = "connecting";
function setLive(state, detail) {
  liveState = state;
  const e = $("live");
  e.dataset.state = state;
  e.textContent = { live: "live", reconnecting: "reconnecting", hidden: "not live (tab hidden)" }[state] || "connecting";
  e.title = state === "live" ? "Updates as batch events arrive (/v1/events); also polls every " + secs(POLL_LIVE) + "." :
    "Event stream " + (detail || "not connected") + "; polling every " + secs(POLL_DOWN) + ".";
  schedulePoll();
}

// watch keeps /v1/events open: WatchBatchEvents through the gateway, one
// JSON object a line, {"result": event} or, when the server fails
// mid-stream, {"error": status}. The response headers arrive once the
// server is subscribed, so "live" means no later event is missed; every
// (re)connection refreshes once to catch up on what happened while down.
// The server and proxies end streams (restarts, idle timeouts): it
// reconnects after BACKOFF_MIN, doubling up to BACKOFF_MAX while attempts
// keep failing, with jitter so that restarted replicas are not stormed.
// A hidden tab closes its stream (browsers allow few connections per host
// over HTTP/1.1) and polls; it reconnects when shown again.
const BACKOFF_MIN = 1000, BACKOFF_MAX = 30000, HEALTHY = 10000;
let stream = null, backoff = BACKOFF_MIN, retryTimer = null;
async function watch() {
  clearTimeout(retryTimer); retryTimer = null;
  if (stream) return;
  if (document.hidden) { setLive("hidden", "closed while the tab is hidden"); return; }
  const ctrl = new AbortController();
  stream = ctrl;
  let opened = 0, events = 0, why = "closed";
  try {
    const r = await fetch("/v1/events", { credentials: "same-origin", cache: "no-store",
      headers: { "Accept": "application/json" }, signal: ctrl.signal });
    if (!r.ok || !r.body) throw new Error(r.status + " " + r.statusText);
    opened = Date.now();
    setLive("live");
    refresh();
    const reader = r.body.getReader(), dec = new TextDecoder();
    let buf = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buf += dec.decode(value, { stream: true });
      let nl;
      while ((nl = buf.indexOf("\n")) >= 0) {
        const line = buf.slice(0, nl).trim();
        buf = buf.slice(nl + 1);
        if (!line) continue;
        const m = JSON.parse(line);
        if (m.error) throw new Error(m.error.message || "stream error");
        if (m.result) { events++; onEvent(); }
      }
    }
  } catch (e) {
    why = e.name === "AbortError" ? "closed" : e.message;
  } finally {
    ctrl.abort(); // releases the connection when a bad line ended the read
    if (stream === ctrl) stream = null;
  }
  if (document.hidden) { setLive("hidden", "closed while the tab is hidden"); return; }
  // A stream that worked (an event, or open a while) ended normally, e.g.
  // by a proxy's idle timeout: reconnect soon. Failures back off.
  backoff = opened && (events > 0 || Date.now() - opened >= HEALTHY) ? BACKOFF_MIN : Math.min(backoff * 2, BACKOFF_MAX);
  const wait = Math.round(backoff * (0.8 + 0.4 * Math.random()));
  setLive("reconnecting", why + ", reconnecting in " + secs(wait));
  retryTimer = setTimeout(watch, wait);
}
document.addEventListener("visibilitychange", () => {
  if (document.hidden) { if (stream) stream.abort(); }
  else if (!stream) { backoff = BACKOFF_MIN; watch(); }
});

setLive("connecting");
refresh(); loadDenylist(); route(); watch();
setInterval(loadDenylist, 30000);
