// The stack's dashboard: plain JS, no framework, nothing from the network. Everything comes
// from this page's own origin: the stream (/api/stream: events and status), a service's log
// lines (/api/logs, a long poll), the actions (POST /api/ACTION/SERVICE).
"use strict";

const TOKEN = new URLSearchParams(location.search).get("token") || "";
const STATES = ["ready", "completed", "degraded", "failed", "backoff", "starting", "waiting",
  "stopping", "stopped", "pending"];
const CONFIRM = { stop: true, kill: true };
const $ = (id) => document.getElementById(id);

const page = {
  events: [],            // every event of the stack, in order (the timeline's source)
  readyIn: {},           // service -> seconds its last start took
  services: [],          // the last status rows
  stackInfo: null,
  log: { service: null, mark: null, lines: [], abort: null, loop: 0 },
};

function withToken(path) {
  return TOKEN ? path + (path.includes("?") ? "&" : "?") + "token=" + encodeURIComponent(TOKEN) : path;
}

function el(tag, attrs, text) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
  if (text !== undefined && text !== null) node.textContent = String(text);
  return node;
}

function duration(s) {
  if (s === null || s === undefined || s === "") return "";
  s = Number(s);
  if (s < 1) return Math.round(s * 1000) + " ms";
  if (s < 60) return s.toFixed(s < 10 ? 2 : 1) + " s";
  const m = Math.floor(s / 60);
  if (m < 60) return m + "m " + String(Math.floor(s % 60)).padStart(2, "0") + "s";
  return Math.floor(m / 60) + "h " + String(m % 60).padStart(2, "0") + "m";
}

// ------------------------------------------------------------------ services

function renderStatus(data) {
  page.stackInfo = data.stack;
  page.services = data.services;
  $("profile").textContent = data.stack.profile || "";
  $("stack-id").textContent = data.stack.id || "";
  $("uptime").textContent = "up " + duration(data.stack.uptime_s);
  document.title = "stack " + (data.stack.profile || "") + " — dashboard";
  const body = $("service-rows");
  const seen = new Set();
  for (const s of data.services) {
    seen.add(s.name);
    let row = body.querySelector(`tr[data-service="${CSS.escape(s.name)}"]`);
    if (!row) {
      row = buildRow(s.name);
      body.appendChild(row);
    }
    fillRow(row, s);
  }
  for (const row of Array.from(body.children)) {
    if (!seen.has(row.dataset.service)) row.remove();
  }
  renderTabs();
}

function buildRow(name) {
  const row = el("tr", { "data-service": name });
  for (const cls of ["name", "state", "reason", "ready", "uptime", "restarts", "last-exit",
    "health", "endpoint", "rss num", "cpu num", "pid num", "actions"]) {
    row.appendChild(el("td", { class: cls }));
  }
  row.querySelector("td.name").textContent = name;
  row.querySelector("td.state").appendChild(el("span"));
  const actions = row.querySelector("td.actions");
  for (const action of ["restart", "stop", "start", "kill"]) {
    const button = el("button", { type: "button", "data-action": action,
      class: CONFIRM[action] ? "danger" : "" }, action);
    button.addEventListener("click", () => act(action, name, button));
    actions.appendChild(button);
  }
  return row;
}

function fillRow(row, s) {
  const cell = (cls) => row.querySelector("td." + cls.split(" ")[0]);
  const badge = cell("state").firstChild;
  badge.textContent = s.state;
  badge.className = "state-" + s.state;
  row.dataset.state = s.state;
  row.dataset.pid = s.pid === null || s.pid === undefined ? "" : String(s.pid);
  cell("reason").textContent = s.reason || "";
  cell("ready").textContent = duration(page.readyIn[s.name]);
  cell("uptime").textContent = s.uptime_s ? duration(s.uptime_s) : "";
  cell("restarts").textContent = s.restarts || 0;
  cell("last-exit").textContent = s.last_exit || "";
  cell("health").textContent = s.health || "-";
  cell("endpoint").textContent = s.endpoint || "";
  cell("rss").textContent = s.rss_mb ? Number(s.rss_mb).toFixed(1) : "";
  cell("cpu").textContent = s.cpu_percent !== undefined && s.pid ? Number(s.cpu_percent).toFixed(1) : "";
  cell("pid").textContent = s.pid || "";
}

function say(text, error) {
  const message = $("message");
  message.textContent = text;
  message.className = error ? "error" : "";
}

async function act(action, name, button) {
  if (CONFIRM[action] && !window.confirm(`${action} ${name}?`)) return;
  if (!TOKEN) {
    say("error: open the dashboard with the URL it printed (with its token) to act on the stack", true);
    return;
  }
  button.disabled = true;
  say(`${action} ${name}…`, false);
  try {
    const answer = await fetch(`api/${action}/${encodeURIComponent(name)}`, {
      method: "POST", headers: { "x-stack-token": TOKEN }, credentials: "same-origin",
    });
    const body = await answer.json().catch(() => ({ error: `error: ${answer.status} ${answer.statusText}` }));
    if (answer.ok) say(body.said, false);
    else say(body.error || `error: ${answer.status}`, true);
  } catch (e) {
    say(`error: the dashboard did not answer (${e.message})`, true);
  } finally {
    button.disabled = false;
  }
}

// ------------------------------------------------------------------ the stream

function connect() {
  let since = page.events.length;
  const source = new EventSource(withToken(`api/stream?since=${since}`));
  const link = $("link");
  source.addEventListener("open", () => { link.dataset.link = "live"; link.textContent = "live"; });
  source.addEventListener("events", (m) => {
    for (const e of JSON.parse(m.data)) {
      if (e.n !== page.events.length) continue;  // (a reconnection repeats none)
      page.events.push(e);
      if (e.to === "ready" || e.to === "completed") {
        page.readyIn[e.service] = e.ready_s !== undefined ? e.ready_s : null;
      }
    }
    renderTimeline();
  });
  source.addEventListener("status", (m) => renderStatus(JSON.parse(m.data)));
  source.addEventListener("problem", (m) => say(m.data, true));
  source.addEventListener("gone", (m) => {
    source.close();
    link.dataset.link = "gone";
    link.textContent = m.data;
  });
  source.addEventListener("error", () => {
    if (link.dataset.link !== "gone") { link.dataset.link = "connecting"; link.textContent = "reconnecting"; }
    if (source.readyState === EventSource.CLOSED) {
      setTimeout(connect, 2000);  // (the browser retries by itself while it is CONNECTING)
    }
  });
}

// ------------------------------------------------------------------ logs

function renderTabs() {
  const tabs = $("log-tabs");
  const names = page.services.map((s) => s.name);
  if (tabs.dataset.names !== names.join("\n")) {
    tabs.textContent = "";
    for (const name of names) {
      const b = el("button", { type: "button", "data-service": name }, name);
      b.addEventListener("click", () => showLog(name));
      tabs.appendChild(b);
    }
    tabs.dataset.names = names.join("\n");
  }
  for (const b of tabs.children) b.classList.toggle("active", b.dataset.service === page.log.service);
  if (page.log.service === null && names.length) showLog(names[0]);
}

function showLog(name) {
  const log = page.log;
  if (log.abort) log.abort.abort();
  log.service = name;
  log.mark = null;
  log.lines = [];
  log.loop += 1;
  $("log-lines").textContent = "";
  for (const b of $("log-tabs").children) b.classList.toggle("active", b.dataset.service === name);
  followLog(log.loop);
}

async function followLog(loop) {
  const log = page.log;
  while (loop === log.loop) {
    const first = log.mark === null;
    const query = first ? "n=2000" : `since=${log.mark}&wait=10`;
    log.abort = new AbortController();
    try {
      const answer = await fetch(withToken(`api/logs?service=${encodeURIComponent(log.service)}&${query}`),
        { signal: log.abort.signal, credentials: "same-origin" });
      if (loop !== log.loop) return;
      if (!answer.ok) {
        const body = await answer.json().catch(() => ({}));
        say(body.error || `error: logs: ${answer.status}`, true);
        await pause(3000);
        continue;
      }
      const chunk = await answer.json();
      if (loop !== log.loop) return;
      log.mark = chunk.mark;
      addLines(chunk.lines, chunk.times || []);
    } catch (e) {
      if (loop !== log.loop) return;
      await pause(2000);
    }
    if (!$("log-follow").checked) return;  // (ticking follow again reloads it)
  }
}

function pause(ms) { return new Promise((done) => setTimeout(done, ms)); }

function addLines(lines, times) {
  const box = $("log-lines");
  const atEnd = box.scrollHeight - box.scrollTop - box.clientHeight < 30;
  const query = searchQuery();
  for (let i = 0; i < lines.length; i++) {
    const line = el("div", { class: "line" });
    if (times[i]) line.appendChild(el("span", { class: "time" }, new Date(times[i] * 1000).toLocaleTimeString()));
    line.appendChild(el("span", { class: "text" }, lines[i]));
    mark(line, query);
    box.appendChild(line);
    page.log.lines.push(lines[i]);
  }
  while (box.children.length > 5000) box.firstChild.remove();
  countMatches();
  if ($("log-follow").checked && atEnd) box.scrollTop = box.scrollHeight;
}

function searchQuery() {
  const text = $("log-search").value;
  if (!text) return null;
  const regex = /^\/(.+)\/([a-z]*)$/.exec(text);
  try {
    if (regex) return new RegExp(regex[1], regex[2].replace("g", "") + "g");
  } catch (e) {
    return null;
  }
  return new RegExp(text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"), "gi");
}

function mark(line, query) {
  const span = line.querySelector(".text");
  const text = span.textContent;
  span.textContent = text;
  line.classList.remove("match");
  if (!query) return;
  query.lastIndex = 0;
  let at = 0, found = false, m;
  const parts = [];
  while ((m = query.exec(text)) !== null) {
    if (m[0] === "") { query.lastIndex++; continue; }
    found = true;
    parts.push(document.createTextNode(text.slice(at, m.index)));
    parts.push(el("mark", {}, m[0]));
    at = m.index + m[0].length;
  }
  if (!found) return;
  parts.push(document.createTextNode(text.slice(at)));
  span.textContent = "";
  for (const p of parts) span.appendChild(p);
  line.classList.add("match");
}

function search() {
  const query = searchQuery();
  const box = $("log-lines");
  box.classList.toggle("searching", query !== null);
  for (const line of box.children) mark(line, query);
  countMatches();
}

function countMatches() {
  const box = $("log-lines");
  const total = box.children.length;
  const hits = box.querySelectorAll(".line.match").length;
  $("log-count").textContent = box.classList.contains("searching") ? `${hits} of ${total} lines` : `${total} lines`;
}

// ------------------------------------------------------------------ timeline

function colour(state) {
  return getComputedStyle(document.documentElement).getPropertyValue("--" + state).trim() || "#999";
}

function svg(tag, attrs, text) {
  const node = document.createElementNS("http://www.w3.org/2000/svg", tag);
  for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
  if (text !== undefined) node.textContent = text;
  return node;
}

function lanes(events, now) {
  // per service: the spans of each state (as the report's timeline draws them) and marks
  const out = new Map();
  const last = new Map();
  for (const e of events) {
    if (!out.has(e.service)) out.set(e.service, { spans: [], marks: [] });
    const lane = out.get(e.service);
    const before = last.get(e.service);
    if (before && before.to !== "pending" && before.to !== "stopped") {
      lane.spans.push({ state: before.to, start: before.time, end: e.time, reason: before.reason });
    }
    if (e.to === "waiting" && ["stopped", "failed", "backoff"].includes(e.from)) {
      lane.marks.push({ kind: "restart", at: e.time, text: e.reason || "restarted" });
    } else if (e.to === "failed") {
      lane.marks.push({ kind: "failure", at: e.time, text: e.reason });
    }
    last.set(e.service, e);
  }
  for (const [name, e] of last) {
    if (e.to !== "stopped" && e.to !== "pending") {
      out.get(name).spans.push({ state: e.to, start: e.time, end: now, reason: e.reason });
    }
  }
  return out;
}

function renderTimeline() {
  const events = page.events;
  const box = $("timeline");
  if (!events.length) return;
  const origin = events[0].time;
  const now = Math.max(Date.now() / 1000, events[events.length - 1].time);
  const length = Math.max(now - origin, 1);
  const byService = lanes(events, now);
  const left = 140, width = 1000, height = 22, top = 18;
  const x = (t) => left + ((t - origin) / length) * (width - left - 10);
  const root = svg("svg", { viewBox: `0 0 ${width} ${top + byService.size * height + 4}`,
    role: "img", "aria-label": "the stack's timeline" });
  for (let i = 0; i <= 4; i++) {
    const t = origin + (length * i) / 4;
    root.appendChild(svg("line", { class: "axis", x1: x(t), x2: x(t), y1: top - 4, y2: top + byService.size * height }));
    const end = i === 4 ? { x: x(t) - 2, "text-anchor": "end" } : { x: x(t) + 2 };
    root.appendChild(svg("text", { ...end, y: 11 }, "+" + duration(t - origin)));
  }
  let row = 0;
  for (const [name, lane] of byService) {
    const y = top + row * height;
    root.appendChild(svg("text", { x: 4, y: y + 15 }, name));
    for (const s of lane.spans) {
      const rect = svg("rect", { x: x(s.start), y: y + 4, width: Math.max(x(s.end) - x(s.start), 1.5),
        height: height - 8, rx: 2, fill: colour(s.state), "data-state": s.state });
      rect.appendChild(svg("title", {}, `${name}: ${s.state} ${duration(s.end - s.start)}${s.reason ? " (" + s.reason + ")" : ""}`));
      root.appendChild(rect);
    }
    for (const m of lane.marks) {
      const line = svg("line", { class: "mark-" + m.kind, x1: x(m.at), x2: x(m.at), y1: y + 1, y2: y + height - 1 });
      line.appendChild(svg("title", {}, `${name}: ${m.kind}: ${m.text}`));
      root.appendChild(line);
    }
    row++;
  }
  box.textContent = "";
  box.appendChild(root);
}

function legend() {
  const box = $("legend");
  for (const state of STATES) {
    const item = el("span");
    const swatch = el("i", { class: "state-" + state });
    item.appendChild(swatch);
    item.appendChild(document.createTextNode(state));
    box.appendChild(item);
  }
}

// ------------------------------------------------------------------ start

document.addEventListener("DOMContentLoaded", () => {
  legend();
  $("log-search").addEventListener("input", search);
  $("log-follow").addEventListener("change", () => { if ($("log-follow").checked) showLog(page.log.service); });
  connect();
  setInterval(renderTimeline, 5000);  // running spans grow
});
