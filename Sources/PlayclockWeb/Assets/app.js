// The front desk: sign in, watch the floor live, act on one or several stations in two taps.
// Every action is a POST to /api/request/<verb>, which runs the same handler as an MQTT request.
import { LiveFloor, STATUS_LABELS, describe, el, formatRemaining, formatTime } from "/assets/common.js";

const $ = (id) => document.getElementById(id);
const EVENT_WORDS = {
  "session.started": "session started", "session.extended": "session extended", "session.paused": "session paused",
  "session.resumed": "session resumed", "session.stopped": "session stopped", "session.expired": "time is up",
  "session.transferred": "session moved", "station.locked": "locked", "station.unlocked": "unlocked",
  "station.online": "came online", "station.offline": "went offline", "station.added": "station added",
  "station.updated": "station changed", "station.removed": "station removed", "station.maintenance": "maintenance",
  "command.rejected": "refused", "plug.alarm": "plug alarm", "plug.alarm_cleared": "plug alarm cleared",
  "plug.mismatch": "plug switched by hand", "plug.bypass": "console powered without a session",
  "plug.online": "plug back online", "hub.started": "hub started", "session.recovered": "session recovered after restart",
  "session.warned": "warned", "plug.manual": "plug switched by staff", "session.idle_power": "console never used",
  "station.order": "order sent", "agent.order_done": "order carried out", "agent.order_failed": "order failed",
  "agent.tamper": "tamper alert",
};
const ORDER_WORDS = { logout: "log out", shutdown: "shut down", restart: "restart", message: "message" };

let me = null;
let floor = null;
const selected = new Set();
// The action waiting for its confirming second tap, with the stations it is for ("stop|PC-01,PC-02").
let armed = null;
let toastTimer = null;

// ---------- sign-in ----------

async function api(path, body) {
  const options = body === undefined ? {} : {
    method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
  };
  const response = await fetch(path, { credentials: "same-origin", ...options });
  let data = null;
  try { data = await response.json(); } catch { /* not JSON */ }
  return { ok: response.ok, status: response.status, data };
}

async function start() {
  const who = await api("/api/me");
  if (who.ok) showFloor(who.data); else showLogin();
}

function showLogin(message = "") {
  floor?.close();
  floor = null;
  me = null;
  $("app").hidden = true;
  $("whoami").hidden = true;
  $("signout").hidden = true;
  $("login").hidden = false;
  $("login-error").textContent = message;
  $("login-account").focus();
}

$("login-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  $("login-error").textContent = "";
  const result = await api("/api/login", { account: $("login-account").value.trim(), password: $("login-password").value });
  $("login-password").value = "";
  if (result.ok) showFloor(result.data);
  else $("login-error").textContent = result.data?.error?.message || `sign-in failed (HTTP ${result.status})`;
});

$("signout").addEventListener("click", async () => {
  await api("/api/logout", {});
  showLogin();
});

function showFloor(who) {
  me = who;
  $("login").hidden = true;
  $("app").hidden = false;
  $("whoami").hidden = false;
  $("whoami").textContent = `${who.account} · ${who.role}`;
  $("signout").hidden = false;
  // Offer what the hub says this account may send (its role table), nothing more.
  const verbs = new Set(who.verbs || []);
  for (const button of document.querySelectorAll("#actions [data-verb]")) button.hidden = !verbs.has(button.dataset.verb);
  for (const group of document.querySelectorAll("#actions .group")) {
    group.hidden = !group.querySelector("[data-verb]:not([hidden])");
  }
  $("readonly-note").hidden = Boolean(document.querySelector("#actions [data-verb]:not([hidden])"));
  floor = new LiveFloor("/api/live", {
    snapshot: () => { renderFloor(); renderFilter(); loadEvents(); },
    state: (s) => { renderTile(s); renderAlarms(); renderActions(); },
    removed: (id) => { selected.delete(id); renderFloor(); renderFilter(); },
    event: addEvent,
    broker: setBroker,
    lost: async () => {
      setBroker(null);
      const check = await api("/api/me");
      if (check.status === 401) showLogin("Your sign-in has ended. Please sign in again.");
    },
  });
  floor.connect();
}

function setBroker(connected) {
  const pill = $("broker");
  pill.className = `pill ${connected === true ? "pill-ok" : connected === false ? "pill-bad" : "pill-unknown"}`;
  pill.textContent = connected === true ? "live" : connected === false ? "hub offline from broker" : "reconnecting…";
}

// ---------- the floor ----------

function renderFloor() {
  const root = $("floor");
  root.replaceChildren();
  for (const [zone, stations] of floor.zones()) {
    root.append(el("section", { class: "zone", dataset: { zone } },
      el("h2", { text: zone || "Other stations" }),
      el("div", { class: "tiles" }, stations.map(tile))));
  }
  for (const id of [...selected]) if (!floor.stations.has(id)) selected.delete(id);
  renderAlarms();
  renderActions();
  tick();
}

function tile(s) {
  const node = el("button", {
    type: "button", class: `tile status-${s.status}${selected.has(s.station) ? " selected" : ""}`,
    dataset: { station: s.station }, "aria-pressed": selected.has(s.station) ? "true" : "false",
    onclick: () => toggle(s.station),
  });
  fillTile(node, s);
  return node;
}

function fillTile(node, s) {
  const session = s.session;
  node.className = `tile status-${s.status}${selected.has(s.station) ? " selected" : ""}`;
  node.replaceChildren(
    el("span", { class: "name", text: s.name }),
    el("span", { class: "id", text: s.station === s.name ? s.kind : `${s.station} · ${s.kind}` }),
    el("span", { class: "status", text: STATUS_LABELS[s.status] || s.status }),
    el("span", { class: "countdown", text: "" }),
    el("span", { class: "session", text: session ? `session ${session.id.slice(0, 8)} · since ${formatTime(session.started_at)}` : "" }),
    el("span", { class: "health", text: describe(s) }),
  );
}

function renderTile(s) {
  const node = document.querySelector(`.tile[data-station="${CSS.escape(s.station)}"]`);
  const zoneNode = node?.closest(".zone");
  if (!node || zoneNode?.dataset.zone !== (s.zone || "")) { renderFloor(); renderFilter(); return; }
  fillTile(node, s);
  tick();
}

function tick() {
  if (!floor) return;
  $("clock").textContent = new Date(floor.now()).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  for (const node of document.querySelectorAll(".tile")) {
    const s = floor.stations.get(node.dataset.station);
    const left = s ? floor.remaining(s) : null;
    const countdown = node.querySelector(".countdown");
    countdown.textContent = left === null ? "" : formatRemaining(left);
  }
}
setInterval(tick, 1000);

function renderAlarms() {
  const alarms = floor.alarms();
  $("alarms").replaceChildren(...alarms.map((a) =>
    el("button", { type: "button", class: `alarm alarm-${a.kind}`, onclick: () => { selected.clear(); toggle(a.station); } }, a.text)));
  $("alarms").hidden = alarms.length === 0;
}

// ---------- selection and actions ----------

function toggle(id) {
  if (selected.has(id)) selected.delete(id); else selected.add(id);
  showSelection();
}

function showSelection() {
  armed = null;
  for (const node of document.querySelectorAll(".tile")) {
    const on = selected.has(node.dataset.station);
    node.classList.toggle("selected", on);
    node.setAttribute("aria-pressed", on ? "true" : "false");
  }
  renderActions();
}

$("clear-selection").addEventListener("click", () => { selected.clear(); showSelection(); });

function renderActions() {
  const ids = [...selected].sort();
  $("selection-label").textContent = ids.length === 0 ? "Tap a station" : ids.length === 1 ? floor.stations.get(ids[0])?.name || ids[0] : `${ids.length} stations`;
  $("clear-selection").hidden = ids.length === 0;
  for (const button of document.querySelectorAll("#actions button[data-action]")) button.disabled = ids.length === 0;
  // Orders go to PCs only (a console runs no agent): offered when every selected station is one.
  const allPCs = ids.length > 0 && ids.every((id) => floor.stations.get(id)?.kind === "pc");
  for (const button of document.querySelectorAll("#actions button[data-pc-only]")) {
    button.disabled = !allPCs;
    button.title = ids.length > 0 && !allPCs ? "Only for PCs" : "";
  }
  for (const button of document.querySelectorAll("#actions button[data-confirm]")) {
    button.dataset.label ??= button.textContent;
    const waiting = armed === `${button.dataset.action}|${ids.join(",")}`;
    button.textContent = waiting ? button.dataset.confirm : button.dataset.label;
    button.classList.toggle("armed", waiting);
  }
  const target = $("transfer-target");
  const current = target.value;
  const idle = [...floor.stations.values()].filter((s) => !s.session && !selected.has(s.station) && s.status !== "maintenance");
  target.replaceChildren(el("option", { value: "", text: "to station…" }),
    ...idle.map((s) => el("option", { value: s.station, text: s.name })));
  target.value = idle.some((s) => s.station === current) ? current : "";
  document.querySelector('[data-action="transfer"]').disabled = ids.length !== 1;
}

function minutesFromInput() {
  const raw = $("custom-minutes").value.trim();
  const minutes = Number(raw);
  if (!/^\d+$/.test(raw) || minutes < 1) { toast("Enter a whole number of minutes (1 or more).", true); return null; }
  return minutes;
}

// The body each action sends besides the station; the verb is the button's data-verb.
const ACTIONS = {
  start: (b) => ({ minutes: Number(b.dataset.minutes) }),
  extend: (b) => ({ minutes: Number(b.dataset.minutes) }),
  "start-custom": () => { const m = minutesFromInput(); return m && { minutes: m }; },
  "extend-custom": () => { const m = minutesFromInput(); return m && { minutes: m }; },
  pause: () => ({}),
  resume: () => ({}),
  stop: () => ({}),
  transfer: () => {
    const to = $("transfer-target").value;
    if (!to) { toast("Choose the station to move the session to.", true); return null; }
    return { to };
  },
  "maintenance-on": () => ({ enabled: true }),
  "maintenance-off": () => ({ enabled: false }),
  "plug-on": () => ({ on: true }),
  "plug-off": () => ({ on: false }),
  logout: () => ({}),
  restart: () => ({}),
  shutdown: () => ({}),
};

document.getElementById("actions").addEventListener("click", async (event) => {
  const button = event.target.closest("button[data-action]");
  if (!button || button.disabled) return;
  const name = button.dataset.action;
  const ids = [...selected].sort();
  if (ids.length === 0) return;
  if (button.dataset.confirm) {
    const key = `${name}|${ids.join(",")}`;
    if (armed !== key) { armed = key; renderActions(); return; }
    armed = null;
  }
  if (name === "message") { openMessageDialog(ids); return; }
  const extra = ACTIONS[name]?.(button);
  if (!extra) return;
  const verb = button.dataset.verb;
  button.disabled = true;
  const failed = await sendAll(verb, ids, extra);
  button.disabled = false;
  renderActions();
  if (failed === null) return;
  if (failed.length === 0) {
    toast(`${button.textContent.trim()}: done for ${names(ids)}.`);
  } else {
    toast(describeFailures(failed), true);
  }
});

const names = (ids) => ids.map((id) => floor.stations.get(id)?.name || id).join(", ");
const describeFailures = (failed) =>
  failed.map((r) => `${floor.stations.get(r.station)?.name || r.station}: ${r.result.data?.error?.message || `HTTP ${r.result.status}`}`).join("\n");

// Sends one request per station; returns the refused ones, or null when the sign-in has ended.
async function sendAll(verb, ids, extra) {
  const results = await Promise.all(ids.map(async (station) => {
    const result = await api(`/api/request/${verb}`, { station, ...extra });
    return { station, result };
  }));
  const failed = results.filter((r) => r.result.data?.status !== "ok");
  if (failed.some((r) => r.result.status === 401)) { showLogin("Your sign-in has ended. Please sign in again."); return null; }
  return failed;
}

// ---------- message to a PC ----------

let messageTargets = [];

function openMessageDialog(ids) {
  messageTargets = ids;
  $("message-to").textContent = names(ids);
  $("message-error").textContent = "";
  $("message-text").value = "";
  $("message-dialog").showModal();
  $("message-text").focus();
}

$("message-cancel").addEventListener("click", () => $("message-dialog").close());

$("message-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const text = $("message-text").value;
  if (!text.trim()) { $("message-error").textContent = "Write the message first."; return; }
  const send = $("message-send");
  send.disabled = true;
  const failed = await sendAll("station/message", messageTargets, { text });
  send.disabled = false;
  if (failed === null) { $("message-dialog").close(); return; }
  if (failed.length === 0) {
    $("message-dialog").close();
    toast(`Message sent to ${names(messageTargets)}.`);
  } else {
    // Keep the dialog open with the hub's words, so the text can be fixed and sent again.
    $("message-error").textContent = describeFailures(failed);
  }
});

function toast(text, isError = false) {
  const node = $("toast");
  node.textContent = text;
  node.className = `toast ${isError ? "toast-error" : "toast-ok"}`;
  node.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => { node.hidden = true; }, isError ? 8000 : 3000);
}

// ---------- events ----------

function renderFilter() {
  const select = $("events-filter");
  const current = select.value;
  const ids = [...floor.stations.keys()].sort();
  select.replaceChildren(el("option", { value: "", text: "all stations" }), ...ids.map((id) => el("option", { value: id, text: id })));
  select.value = ids.includes(current) ? current : "";
}

$("events-filter").addEventListener("change", loadEvents);

async function loadEvents() {
  const station = $("events-filter").value;
  const result = await api(`/api/events?limit=50${station ? `&station=${encodeURIComponent(station)}` : ""}`);
  if (!result.ok) return;
  $("events").replaceChildren(...result.data.events.map(eventItem));
}

function addEvent(e) {
  const filter = $("events-filter").value;
  if (filter && e.station !== filter) return;
  const list = $("events");
  list.prepend(eventItem(e));
  while (list.children.length > 200) list.lastChild.remove();
}

function eventItem(e) {
  const data = e.data || {};
  const details = [];
  if (data.by) details.push(`by ${data.by}`);
  if (data.reason) details.push(String(data.reason).replaceAll("_", " "));
  if (data.verb) details.push(data.verb);
  if (data.message) details.push(data.message);
  if (typeof data.granted_s === "number") details.push(`${Math.round(data.granted_s / 60)} min`);
  if (typeof data.added_s === "number") details.push(`+${Math.round(data.added_s / 60)} min`);
  if (data.to) details.push(`to ${data.to}`);
  if (typeof data.on === "boolean") details.push(data.on ? "on" : "off");
  if (data.action && e.type !== "command.rejected") details.push(ORDER_WORDS[data.action] || data.action);
  if (typeof data.text === "string") details.push(`“${data.text}”`);
  if (typeof data.detail === "string") details.push(data.detail);
  if (typeof data.repeated === "number") details.push(`repeated ${data.repeated}×`);
  return el("li", { class: `event event-${e.type.replace(".", "-")}`, dataset: { station: e.station || "" } },
    el("time", { text: formatTime(e.at) }),
    el("strong", { text: e.station || "hub" }),
    ` ${EVENT_WORDS[e.type] || e.type}`,
    details.length ? el("span", { class: "details", text: ` · ${details.join(" · ")}` }) : null);
}

start();
