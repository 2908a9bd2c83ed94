// The front desk: sign in, watch the floor live, act on one or several stations in two taps.
// Every action is a POST to /api/request/<verb>, which runs the same handler as an MQTT request.
import {
  LiveFloor, STATUS_LABELS, describe, el, formatDuration, formatMoney, formatRemaining, formatTime, newTransactionID, parseAmount,
} from "/assets/common.js";

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
const BILLING_WORDS = { prepaid: "paid at the desk", later: "pay later" };
const ORDER_WORDS = { logout: "log out", shutdown: "shut down", restart: "restart", message: "message" };

let me = null;
let floor = null;
// The verbs the hub takes from this account (its role), and the venue's prices: null when the
// hub has none (`no_rate_plan`), and then the desk offers only time without charge.
let verbs = new Set();
let pricing = null;
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
  // The next account to sign in on this device sees no member and no half-made sale of this one.
  memberShown = null;
  memberData = null;
  saleMember = null;
  for (const dialog of document.querySelectorAll("dialog[open]")) dialog.close();
  pending.clear();
  $("member-card").hidden = true;
  $("member-results").replaceChildren();
  $("member-search").value = "";
  $("sale-member").value = "";
  memberError("");
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
  verbs = new Set(who.verbs || []);
  for (const button of document.querySelectorAll("#actions [data-verb], #members [data-verb]")) button.hidden = !verbs.has(button.dataset.verb);
  for (const group of document.querySelectorAll("#actions .group")) {
    group.hidden = !group.querySelector("[data-verb]:not([hidden])");
  }
  $("readonly-note").hidden = Boolean(document.querySelector("#actions [data-verb]:not([hidden])"));
  pricing = null;
  applyPricing();
  loadPricing();
  floor = new LiveFloor("/api/live", {
    snapshot: () => { renderFloor(); renderFilter(); loadEvents(); },
    state: (s) => { renderTile(s); renderAlarms(); renderActions(); },
    removed: (id) => { selected.delete(id); renderFloor(); renderFilter(); },
    event: (e) => { addEvent(e); moneyEvent(e); },
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
    el("span", { class: "billing", text: billingText(session) }),
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
  renderSale();
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
  if (name === "sell") { sell(); return; }
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

/** The hub's own words for a refused request (or the HTTP status when it sent none). */
const hubMessage = (result) => result.data?.error?.message || `the hub did not answer (HTTP ${result.status})`;

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
  if (!result.ok) { toast(`Events could not be loaded: ${hubMessage(result)}`, true); return; }
  // Oldest first, so a sale finds the time of the start or extension it paid for.
  for (const e of [...result.data.events].reverse()) noteSessionTime(e);
  $("events").replaceChildren(...result.data.events.map(eventItem));
}

function addEvent(e) {
  noteSessionTime(e);
  const filter = $("events-filter").value;
  if (filter && e.station !== filter) return;
  const list = $("events");
  list.prepend(eventItem(e));
  while (list.children.length > 200) list.lastChild.remove();
}

function eventItem(e) {
  const data = e.data || {};
  const sentence = moneySentence(e);
  if (sentence) {
    return el("li", { class: `event event-${e.type.replace(".", "-")} event-money`, dataset: { station: e.station || "", type: e.type } },
      el("time", { text: formatTime(e.at) }),
      el("strong", { text: e.station || "hub" }),
      ` ${sentence}`);
  }
  const details = [];
  if (data.by) details.push(`by ${data.by}`);
  if (data.billing) details.push(data.billing === "balance" ? `on ${data.member}'s balance` : BILLING_WORDS[data.billing] || data.billing);
  if (data.reason === "balance") details.push("the balance changed");
  else if (data.reason) details.push(String(data.reason).replaceAll("_", " "));
  if (data.verb) details.push(data.verb);
  if (data.message) details.push(data.message);
  if (typeof data.granted_s === "number") details.push(`${Math.round(data.granted_s / 60)} min`);
  if (typeof data.added_s === "number") details.push(`${data.added_s < 0 ? "−" : "+"}${Math.round(Math.abs(data.added_s) / 60)} min`);
  if (data.to) details.push(`to ${data.to}`);
  if (typeof data.on === "boolean") details.push(data.on ? "on" : "off");
  if (data.action && e.type !== "command.rejected") details.push(ORDER_WORDS[data.action] || data.action);
  if (typeof data.text === "string") details.push(`“${data.text}”`);
  if (typeof data.detail === "string") details.push(data.detail);
  if (typeof data.repeated === "number") details.push(`repeated ${data.repeated}×`);
  return el("li", { class: `event event-${e.type.replace(".", "-")}`, dataset: { station: e.station || "", type: e.type } },
    el("time", { text: formatTime(e.at) }),
    el("strong", { text: e.station || "hub" }),
    ` ${EVENT_WORDS[e.type] || e.type}`,
    details.length ? el("span", { class: "details", text: ` · ${details.join(" · ")}` }) : null);
}

// ---------- money: prices, selling time at the desk ----------

async function loadPricing() {
  if (!verbs.has("pricing/get")) return;
  const result = await api("/api/request/pricing/get", {});
  if (result.status === 401) { showLogin("Your sign-in has ended. Please sign in again."); return; }
  if (result.data?.status === "ok") pricing = result.data.data;
  else {
    pricing = null;
    // A hub without prices is a normal venue (time given by staff only); anything else is news.
    if (result.data?.error?.code !== "no_rate_plan") toast(`Prices could not be loaded: ${hubMessage(result)}`, true);
  }
  applyPricing();
}

function applyPricing() {
  const priced = pricing !== null;
  $("sale").hidden = !priced || !verbs.has("session/start");
  // Members exist for their balances: without prices nothing can be topped up or paid from one.
  $("members").hidden = !priced || !verbs.has("member/find");
  document.querySelector(".layout").classList.toggle("with-members", !$("members").hidden);
  // With prices, time given without charge stays for venues' own reasons, after the paid options.
  $("free-start-title").textContent = priced ? "Start · no charge" : "Start";
  $("free-extend-title").textContent = priced ? "Extend · no charge" : "Extend";
  $("add-tier").replaceChildren(el("option", { value: "", text: "no tier" }),
    ...(pricing?.tiers || []).map((t) => el("option", { value: t.id, text: `${t.name} (${t.discount_percent}% off)` })));
  // New prices apply to new sales at once: the shown quote and package list are re-made from them.
  quote = { key: null, data: null, error: null };
  saleItemsKey = null;
  renderPrices();
  if (memberData) renderMember(memberData);
  if (floor) renderActions();
}

const currency = () => pricing?.currency || "";
const money = (minor, code = currency()) => formatMoney(minor, code);

/** The station's rate plan as the hub picks it: the first whose zones and kinds (each optional) fit. */
function planFor(station) {
  return (pricing?.plans || []).find((p) =>
    (!p.zones || p.zones.includes(station.zone)) && (!p.kinds || p.kinds.includes(station.kind))) || null;
}

/** Packages valid on the station (its plan and zone); the hub still checks hours and days of sale. */
function packagesFor(station, plan) {
  return (pricing?.packages || []).filter((p) =>
    (!p.plans || (plan && p.plans.includes(plan.id))) && (!p.zones || p.zones.includes(station.zone)));
}

function billingText(session) {
  if (!session?.billing) return "";
  if (session.billing === "balance") {
    const m = session.member;
    return m ? `${m.name} (${m.member}) · ${m.balance_text}` : "on a member's balance";
  }
  return BILLING_WORDS[session.billing] || session.billing;
}

// The member chosen for a payment from an account or a balance session (picked from the search).
let saleMember = null;
let saleBusy = false;
// The quote on show: the request it answers (as JSON), and its answer or refusal.
let quote = { key: null, data: null, error: null };
let quoteTimer = null;
// Transaction ids of money requests not yet answered "ok", by form: a retry of the same body
// reuses its id (the hub then answers it once); any change of the body gets a new one.
const pending = new Map();

function transactionFor(slot, verb, body) {
  const key = `${verb} ${JSON.stringify(body)}`;
  const known = pending.get(slot);
  if (known?.key === key) return known.id;
  const id = newTransactionID();
  pending.set(slot, { key, id });
  return id;
}

const saleMethod = () => document.querySelector('input[name="sale-method"]:checked')?.value || "cash";

/**
 * What the sale form would send now for the one selected station: `{verb, body, quoteBody?, label}`,
 * or `{note}` saying why nothing can be sold.
 */
function saleSpec() {
  const ids = [...selected];
  if (ids.length !== 1) return { note: ids.length ? "Select one station to sell time." : "" };
  const station = floor.stations.get(ids[0]);
  if (!station) return { note: "" };
  const plan = planFor(station);
  if (!plan) return { note: `No rate plan applies to ${station.name}: give time without charge below.` };
  const session = station.session;
  if (session?.billing === "balance") return { note: `${station.name} runs on ${session.member?.name || "a member"}'s balance: top up to extend.`, topUp: session.member?.member };
  if (session?.billing === "later") return { note: `${station.name} is paid later: it runs up to the plan's limit and cannot be extended.` };
  const extending = Boolean(session);
  const method = saleMethod();
  const verb = extending ? "session/extend" : "session/start";
  const base = { station: station.station };
  const needsMember = method === "account" || method === "balance";
  if (needsMember && !saleMember) return { verb, note: "Find the member, then pick them from the list." };
  if (method === "balance") {
    return { verb, body: { ...base, member: saleMember.member },
      text: `Runs on ${saleMember.name}'s balance (${saleMember.balance_text}) and is charged for the time used.`,
      label: `Start on ${saleMember.name}'s balance` };
  }
  if (method === "later") {
    return { verb, body: { ...base, payment: { method: "later" } },
      text: `Charged at the end for the time used, up to ${formatDuration(plan.postpaid_limit_minutes * 60)}.`, label: "Start · pay later" };
  }
  const item = $("sale-item").value;
  let what;
  if (item.startsWith("package:")) what = { package: item.slice("package:".length) };
  else {
    const raw = $("sale-minutes").value.trim();
    if (!/^\d+$/.test(raw) || Number(raw) < 1) return { verb, note: "Enter a whole number of minutes (1 or more)." };
    what = { minutes: Number(raw) };
  }
  const payment = method === "account" ? { method: "account", member: saleMember.member } : { method };
  const paidBy = method === "account" ? `from ${saleMember.name}'s account` : method;
  return {
    verb, body: { ...base, ...what, payment }, paidBy,
    quoteBody: { ...base, ...what, ...(method === "account" ? { member: saleMember.member } : {}) },
    label: extending ? "Extend" : "Start",
    // price/quote prices from now; an extension's time is priced by the hub from the session's end.
    extending,
  };
}

function renderSale() {
  if ($("sale").hidden || !floor) return;
  const ids = [...selected];
  const station = ids.length === 1 ? floor.stations.get(ids[0]) : null;
  const extending = Boolean(station?.session);
  $("sale-title").textContent = extending ? "Sell more time" : "Sell time";
  $("sale-confirm").dataset.verb = extending ? "session/extend" : "session/start";
  const plan = station ? planFor(station) : null;
  for (const label of document.querySelectorAll("#sale-methods label")) {
    label.hidden = (label.hasAttribute("data-start-only") && extending) || (label.hasAttribute("data-later-only") && !plan?.postpaid_limit_minutes);
  }
  if (document.querySelector('input[name="sale-method"]:checked')?.closest("label")?.hidden) {
    document.querySelector('input[name="sale-method"][value="cash"]').checked = true;
  }
  const method = saleMethod();
  $("sale-member-row").hidden = method !== "account" && method !== "balance";
  $("sale-what").hidden = method === "balance" || method === "later";
  fillSaleItems(station, plan);
  $("sale-minutes").hidden = $("sale-item").value !== "minutes";

  const spec = station ? saleSpec() : { note: ids.length > 1 ? "Select one station to sell time." : "Tap a station to sell time." };
  $("sale-open-member").hidden = !spec.topUp;
  $("sale-open-member").dataset.member = spec.topUp || "";
  const confirm = $("sale-confirm");
  let ready = Boolean(spec.body) && !saleBusy;
  let line = spec.note || spec.text || "";
  if (spec.quoteBody) {
    const key = JSON.stringify(spec.quoteBody);
    if (quote.key !== key) {
      quote = { key, data: null, error: null };
      clearTimeout(quoteTimer);
      quoteTimer = setTimeout(() => fetchQuote(key, spec.quoteBody), 200);
    }
    if (quote.data) {
      line = `${quote.data.amount_text} for ${formatDuration(quote.data.granted_s)}`;
      if (quote.data.discount_percent) line += ` (${quote.data.discount_percent}% member discount)`;
      if (spec.extending) line += " · priced from now; the hub prices the extension from the session's end";
    } else if (quote.error) {
      line = quote.error;
    } else {
      line = "Pricing…";
    }
    ready = ready && Boolean(quote.data);
    confirm.textContent = quote.data ? `${spec.label} · ${quote.data.amount_text} ${spec.paidBy}` : spec.label;
  } else {
    quote = { key: null, data: null, error: null };
    confirm.textContent = spec.label || (extending ? "Extend" : "Start");
  }
  $("sale-quote").textContent = line;
  $("sale-quote").classList.toggle("error", Boolean(spec.quoteBody && quote.error));
  confirm.disabled = !ready;
}

let saleItemsKey = null;
function fillSaleItems(station, plan) {
  const packages = station ? packagesFor(station, plan) : [];
  const key = JSON.stringify(packages.map((p) => p.id));
  if (key === saleItemsKey) return;
  saleItemsKey = key;
  const select = $("sale-item");
  const current = select.value;
  select.replaceChildren(el("option", { value: "minutes", text: "Minutes" }),
    ...packages.map((p) => el("option", { value: `package:${p.id}`, text: `${p.name} · ${money(p.price)}` })));
  select.value = [...select.options].some((o) => o.value === current) ? current : "minutes";
}

async function fetchQuote(key, body) {
  const result = await api("/api/request/price/quote", body);
  if (quote.key !== key) return; // the form changed meanwhile: a newer quote is on its way
  if (result.status === 401) { showLogin("Your sign-in has ended. Please sign in again."); return; }
  if (result.data?.status === "ok") quote.data = result.data.data;
  else quote.error = hubMessage(result);
  renderSale();
}

for (const id of ["sale-item", "sale-minutes"]) for (const type of ["input", "change"]) $(id).addEventListener(type, renderSale);
for (const radio of document.querySelectorAll('input[name="sale-method"]')) radio.addEventListener("change", renderSale);
$("sale-open-member").addEventListener("click", () => {
  const member = $("sale-open-member").dataset.member;
  if (member) showMember(member).then(() => $("topup-amount").focus());
});

async function sell() {
  const spec = saleSpec();
  if (!spec.body || saleBusy) return;
  if (spec.quoteBody && !quote.data) return;
  const body = { ...spec.body, transaction: transactionFor("sale", spec.verb, spec.body) };
  const station = floor.stations.get(spec.body.station);
  saleBusy = true;
  renderSale();
  let result;
  try {
    result = await api(`/api/request/${spec.verb}`, body);
  } catch (error) {
    // No answer (the network dropped): the id is kept, so pressing again cannot charge twice.
    result = { ok: false, status: 0, data: { error: { message: `no answer from the hub (${error.message}); press again to retry safely` } } };
  }
  saleBusy = false;
  if (result.status === 401) { showLogin("Your sign-in has ended. Please sign in again."); return; }
  if (result.data?.status === "ok") {
    pending.delete("sale");
    const sale = result.data.data?.sale;
    const name = station?.name || spec.body.station;
    if (sale) toast(`${name}: sale ${sale.sale}, ${sale.amount_text} ${spec.paidBy}.`);
    else if (spec.body.member) toast(`${name} runs on ${saleMember.name}'s balance.`);
    else toast(`${name}: started, pay later.`);
    if (saleMember && memberShown === saleMember.member) refreshMember();
  } else {
    toast(`${station?.name || spec.body.station}: ${hubMessage(result)}`, true);
  }
  renderActions();
}

// ---------- members ----------

/** A search box that asks `member/find` as staff type (debounced) and lists what it finds. */
function memberSearch(input, list, onPick, onType = () => {}) {
  let timer = null;
  let asked = 0;
  input.addEventListener("input", () => {
    onType();
    clearTimeout(timer);
    const query = input.value.trim();
    if (!query) { list.replaceChildren(); return; }
    timer = setTimeout(async () => {
      const mine = ++asked;
      const result = await api("/api/request/member/find", { query, limit: 8 });
      if (mine !== asked) return; // a newer search answers instead
      if (result.data?.status !== "ok") { list.replaceChildren(el("li", { class: "error", text: hubMessage(result) })); return; }
      const found = result.data.data.members;
      list.replaceChildren(...(found.length ? found.map((m) => el("li", {},
        el("button", { type: "button", class: "result", dataset: { member: m.member }, onclick: () => { list.replaceChildren(); onPick(m); } },
          el("strong", { text: m.member }), ` ${m.name}`, el("span", { class: "muted", text: ` · ${m.balance_text}${m.disabled ? " · disabled" : ""}` }))))
        : [el("li", { class: "muted", text: "No member matches." })]));
    }, 250);
  });
}

memberSearch($("sale-member"), $("sale-member-results"), (m) => {
  saleMember = m;
  $("sale-member").value = `${m.member} · ${m.name}`;
  renderSale();
}, () => { saleMember = null; renderSale(); });

memberSearch($("member-search"), $("member-results"), (m) => { $("member-search").value = ""; showMember(m.member); });

let memberShown = null;
let memberData = null;

function memberError(text) { $("member-error").textContent = text; }

async function showMember(id) {
  memberError("");
  const result = await api("/api/request/member/get", { member: id });
  if (result.status === 401) { showLogin("Your sign-in has ended. Please sign in again."); return; }
  if (result.data?.status !== "ok") { memberError(hubMessage(result)); return; }
  memberShown = id;
  renderMember(result.data.data);
}

let refreshTimer = null;
function refreshMember() {
  clearTimeout(refreshTimer);
  refreshTimer = setTimeout(() => { if (memberShown) showMember(memberShown); }, 150);
}

$("member-close").addEventListener("click", () => { memberShown = null; memberData = null; $("member-card").hidden = true; memberError(""); });

const KIND_WORDS = { time: "time", package: "package", topup: "top-up", session_charge: "session charge", refund: "refund", void: "void" };
const REFUND_WORDS = { cash: "cash back", card: "back to the card", account: "back to the account", balance: "back to the balance", later: "off the bill" };
const PAID_WORDS = { cash: "cash", card: "card", account: "from the account", balance: "from the balance", later: "pay later" };

function renderMember(m) {
  memberData = m;
  // A member using the sale form's picker sees the same, fresh balance there.
  if (saleMember?.member === m.member) { saleMember = m; renderSale(); }
  const code = m.currency;
  $("member-card").hidden = false;
  $("member-name").textContent = m.name;
  $("member-id").textContent = m.member;
  const flags = [];
  if (m.disabled) flags.push("disabled");
  if (m.locked_until) flags.push(`locked until ${formatTime(m.locked_until)}`);
  if (!m.has_pin) flags.push("no PIN");
  $("member-flags").textContent = flags.join(" · ");
  $("member-balance").textContent = m.balance_text;
  $("member-available").textContent = formatMoney(m.available, code);
  const tier = (pricing?.tiers || []).find((t) => t.id === m.tier);
  $("member-tier").textContent = m.tier ? `${tier?.name || m.tier}${m.discount_percent ? ` (${m.discount_percent}% off)` : ""}` : "none";
  $("member-contact").textContent = m.contact || "none";
  const station = m.session ? floor?.stations.get(m.session.station) : null;
  $("member-session").textContent = m.session ? `playing on ${station?.name || m.session.station}` : "none";
  $("member-disable").textContent = m.disabled ? "Enable" : "Disable";
  $("member-disable").classList.toggle("danger", !m.disabled);
  $("topup-send").disabled = m.disabled;
  const history = m.history || [];
  const refunded = new Map();
  const voided = new Set();
  for (const h of history) {
    if (h.kind === "refund") refunded.set(h.refers_to, (refunded.get(h.refers_to) || 0) + h.amount);
    if (h.kind === "void") voided.add(h.refers_to);
  }
  $("member-history").replaceChildren(...(history.length ? history.map((h) => {
    const left = h.amount - (refunded.get(h.sale) || 0);
    const buttons = [];
    if (verbs.has("sale/refund") && ["time", "package", "topup", "session_charge"].includes(h.kind) && !voided.has(h.sale) && left > 0) {
      buttons.push(el("button", { type: "button", class: "small", dataset: { refund: h.sale }, onclick: () => openSaleDialog("refund", h, left, code) }, "Refund…"));
    }
    if (verbs.has("sale/void") && ["time", "package", "topup"].includes(h.kind) && !voided.has(h.sale) && !refunded.has(h.sale)) {
      buttons.push(el("button", { type: "button", class: "small danger", dataset: { void: h.sale }, onclick: () => openSaleDialog("void", h, left, code) }, "Void…"));
    }
    const way = (h.kind === "refund" ? REFUND_WORDS : PAID_WORDS)[h.method] || h.method;
    const parts = [KIND_WORDS[h.kind] || h.kind, formatMoney(h.amount, code), way];
    if (h.station) parts.push(h.station);
    if (h.refers_to) parts.push(`of sale ${h.refers_to}`);
    if (h.by) parts.push(`by ${h.by}`);
    if (h.reason) parts.push(`“${h.reason}”`);
    if (voided.has(h.sale)) parts.push("voided");
    else if (refunded.has(h.sale)) parts.push(`${formatMoney(refunded.get(h.sale), code)} refunded`);
    return el("li", { dataset: { sale: h.sale, kind: h.kind } },
      el("span", { class: "sale-no", text: `#${h.sale}` }), el("time", { text: formatTime(h.at) }), ` ${parts.join(" · ")}`,
      buttons.length ? el("span", { class: "row-buttons" }, buttons) : null);
  }) : [el("li", { class: "muted", text: "No sales yet." })]));
}

// Answers of the member verbs that change something: the card shows the member as answered.
async function memberRequest(verb, body, slot) {
  memberError("");
  const send = slot ? { ...body, transaction: transactionFor(slot, verb, body) } : body;
  const result = await api(`/api/request/${verb}`, send);
  if (result.status === 401) { showLogin("Your sign-in has ended. Please sign in again."); return null; }
  if (result.data?.status !== "ok") return { error: hubMessage(result) };
  if (slot) pending.delete(slot);
  return { data: result.data.data };
}

$("topup-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const m = memberData;
  if (!m) return;
  const parsed = parseAmount($("topup-amount").value, m.currency);
  if (parsed.error) { memberError(parsed.error); return; }
  const method = $("topup-method").value;
  $("topup-send").disabled = true;
  const answer = await memberRequest("member/topup", { member: m.member, amount: parsed.amount, method }, "topup");
  $("topup-send").disabled = false;
  if (!answer) return;
  if (answer.error) { memberError(answer.error); return; }
  $("topup-amount").value = "";
  toast(`Top-up ${m.member} +${answer.data.sale.amount_text} ${method}: balance ${answer.data.balance_text}.`);
  showMember(m.member);
});

$("pin-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const m = memberData;
  const pin = $("pin-value").value;
  if (!m) return;
  if (!/^\d{4,12}$/.test(pin)) { memberError("A PIN is 4 to 12 digits."); return; }
  const answer = await memberRequest("member/set-pin", { member: m.member, pin });
  if (!answer) return;
  if (answer.error) { memberError(answer.error); return; }
  $("pin-value").value = "";
  toast(`PIN set for ${m.member}.`);
  showMember(m.member);
});

$("member-disable").addEventListener("click", async () => {
  const m = memberData;
  if (!m) return;
  const answer = await memberRequest("member/disable", { member: m.member, disabled: !m.disabled });
  if (!answer) return;
  if (answer.error) { memberError(answer.error); return; }
  toast(`Member ${m.member} ${answer.data.disabled ? "disabled" : "enabled"}.`);
  showMember(m.member);
});

// Add member
$("member-add-open").addEventListener("click", () => {
  for (const id of ["add-id", "add-name", "add-contact", "add-pin"]) $(id).value = "";
  $("add-tier").value = "";
  $("member-add-error").textContent = "";
  $("member-add-dialog").showModal();
  $("add-id").focus();
});
$("member-add-cancel").addEventListener("click", () => $("member-add-dialog").close());
$("member-add-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const body = { member: $("add-id").value.trim(), name: $("add-name").value.trim() };
  const pin = $("add-pin").value;
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(body.member)) { $("member-add-error").textContent = "A member id is 1-64 letters, digits, - or _."; return; }
  if (!body.name) { $("member-add-error").textContent = "Give the member's name."; return; }
  if (pin && !/^\d{4,12}$/.test(pin)) { $("member-add-error").textContent = "A PIN is 4 to 12 digits (or leave it empty)."; return; }
  if ($("add-tier").value) body.tier = $("add-tier").value;
  if ($("add-contact").value.trim()) body.contact = $("add-contact").value.trim();
  if (pin) body.pin = pin;
  $("member-add-send").disabled = true;
  const answer = await memberRequest("member/add", body, "member-add");
  $("member-add-send").disabled = false;
  if (!answer) return;
  if (answer.error) { $("member-add-error").textContent = answer.error; return; }
  $("member-add-dialog").close();
  toast(`Member ${answer.data.member} (${answer.data.name}) added.`);
  showMember(answer.data.member);
});

// Refund and void (managers)
let saleAction = null;

function openSaleDialog(kind, row, left, code) {
  saleAction = { kind, row, code };
  $("sale-dialog-title").textContent = `${kind === "refund" ? "Refund" : "Void"} sale ${row.sale}`;
  $("sale-dialog-what").textContent = `${KIND_WORDS[row.kind] || row.kind}, ${formatMoney(row.amount, code)} ${PAID_WORDS[row.method] || row.method}, ${formatTime(row.at)}` +
    (kind === "refund" ? ` · ${formatMoney(left, code)} left to refund` : " · reverses the whole sale");
  $("sale-amount-row").hidden = kind !== "refund";
  $("sale-amount").value = kind === "refund" ? formatMoney(left, code).split(" ")[0] : "";
  $("sale-reason").value = "";
  $("sale-dialog-error").textContent = "";
  $("sale-dialog-send").textContent = kind === "refund" ? "Refund" : "Void";
  $("sale-dialog").showModal();
  $("sale-reason").focus();
}

$("sale-dialog-cancel").addEventListener("click", () => $("sale-dialog").close());
$("sale-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  if (!saleAction) return;
  const { kind, row, code } = saleAction;
  const reason = $("sale-reason").value.trim();
  if (!reason) { $("sale-dialog-error").textContent = "Give the reason (it is kept with the sale)."; return; }
  const body = { sale: row.sale, reason };
  if (kind === "refund") {
    const parsed = parseAmount($("sale-amount").value, code);
    if (parsed.error) { $("sale-dialog-error").textContent = parsed.error; return; }
    body.amount = parsed.amount;
  }
  $("sale-dialog-send").disabled = true;
  const answer = await memberRequest(`sale/${kind}`, body, `${kind}:${row.sale}`);
  $("sale-dialog-send").disabled = false;
  if (!answer) return;
  if (answer.error) { $("sale-dialog-error").textContent = answer.error; return; }
  $("sale-dialog").close();
  toast(`${kind === "refund" ? "Refunded" : "Voided"} sale ${row.sale}: ${answer.data.amount_text}.`);
  refreshMember();
});

// ---------- prices (managers) ----------
// The Prices dialog lists the plans, packages and tiers of `pricing/get` and lets an account with
// `rate/set`, `package/set` or `tier/set` add, edit and remove them through forms. Every save
// sends the verb and shows the hub's answer: the hub is the one judge of a price list (the field
// path in its refusal says what to fix), so the forms check only what they must to build the body
// exactly (amounts as minor units from string arithmetic, whole numbers as numbers).

const DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
const DAY_WORDS = { mon: "Mon", tue: "Tue", wed: "Wed", thu: "Thu", fri: "Fri", sat: "Sat", sun: "Sun" };
// The catalogue's own bounds (PricingLimits): an amount typed above them is refused before sending.
const MAX_PER_HOUR = 10000000;
const MAX_PRICE = 1000000000000;
const PRICE_VERBS = ["rate/set", "package/set", "tier/set"];
// What the editor is editing: {kind: "plan"|"package"|"tier", original: the item or null (new)}.
let priceEdit = null;

const canEditPrices = () => PRICE_VERBS.some((v) => verbs.has(v));

/** 1250 -> "12.50" in the venue's currency: what a form field shows for an amount. */
const decimalText = (minor) => formatMoney(minor, currency()).split(" ")[0];

function daysText(days) {
  if (!days || days.length === 0 || days.length === 7) return "every day";
  return DAYS.filter((d) => days.includes(d)).map((d) => DAY_WORDS[d]).join(", ");
}

function stepText(seconds) {
  return seconds % 60 === 0 ? `${seconds / 60} min` : `${seconds} s`;
}

function planLine(p) {
  const parts = [`${money(p.per_hour)}/h`, `step ${stepText(p.step_s)}`];
  if (p.minimum) parts.push(`minimum ${money(p.minimum)}`);
  parts.push(`zones: ${p.zones ? p.zones.join(", ") : "all"}`);
  if (p.kinds) parts.push(`kinds: ${p.kinds.join(", ")}`);
  if (p.postpaid_limit_minutes) parts.push(`pay later up to ${formatDuration(p.postpaid_limit_minutes * 60)}`);
  return parts.join(" · ");
}

function packageLine(p) {
  const parts = [money(p.price), p.until ? `until ${p.until}` : formatDuration(p.minutes * 60)];
  if (p.plans) parts.push(`plans: ${p.plans.join(", ")}`);
  if (p.zones) parts.push(`zones: ${p.zones.join(", ")}`);
  if (p.sale_hours) parts.push(`sold ${p.sale_hours.from}–${p.sale_hours.to}`);
  if (p.days) parts.push(`on ${daysText(p.days)}`);
  if (p.available_until) parts.push(`until ${p.available_until}`);
  return parts.join(" · ");
}

function priceButtons(kind, item, verb) {
  const removeVerb = verb.replace("/set", "/remove");
  return el("span", { class: "row-buttons" },
    verbs.has(verb) ? el("button", { type: "button", class: "small", dataset: { edit: item.id }, onclick: () => openPriceForm(kind, item) }, "Edit") : null,
    verbs.has(removeVerb) ? el("button", { type: "button", class: "small danger", dataset: { remove: item.id },
      onclick: (e) => removePriceItem(e.currentTarget, kind, item, removeVerb) }, "Remove") : null);
}

function renderPrices() {
  $("prices-open").hidden = !(pricing && canEditPrices());
  if (!$("prices-dialog").open) return;
  if (!pricing) { $("prices-dialog").close(); return; }
  $("prices-currency").textContent = `${pricing.currency} · ${pricing.timezone}`;
  for (const [id, verb] of [["plan-add", "rate/set"], ["package-add", "package/set"], ["tier-add", "tier/set"]]) $(id).hidden = !verbs.has(verb);
  $("prices-plans").replaceChildren(...(pricing.plans.length ? pricing.plans.map((p) => el("li", { dataset: { plan: p.id } },
    el("div", {}, el("strong", { text: p.name }), el("span", { class: "muted", text: ` ${p.id}` }), priceButtons("plan", p, "rate/set")),
    el("div", { class: "price-line", text: planLine(p) }),
    p.rules.length ? el("ul", { class: "rules" }, p.rules.map((r) =>
      el("li", { text: `${daysText(r.days)} ${r.from}–${r.to} · ${money(r.per_hour)}/h` }))) : null))
    : [el("li", { class: "muted", text: "No rate plans: no station can be sold time." })]));
  $("prices-packages").replaceChildren(...(pricing.packages.length ? pricing.packages.map((p) => el("li", { dataset: { package: p.id } },
    el("div", {}, el("strong", { text: p.name }), el("span", { class: "muted", text: ` ${p.id}` }), priceButtons("package", p, "package/set")),
    el("div", { class: "price-line", text: packageLine(p) })))
    : [el("li", { class: "muted", text: "No packages." })]));
  $("prices-tiers").replaceChildren(...(pricing.tiers.length ? pricing.tiers.map((t) => el("li", { dataset: { tier: t.id } },
    el("div", {}, el("strong", { text: t.name }), el("span", { class: "muted", text: ` ${t.id}` }), priceButtons("tier", t, "tier/set")),
    el("div", { class: "price-line", text: `${t.discount_percent}% off rates and packages` })))
    : [el("li", { class: "muted", text: "No tiers." })]));
}

$("prices-open").addEventListener("click", () => {
  $("prices-error").textContent = "";
  closePriceForm();
  $("prices-dialog").showModal();
  renderPrices();
  loadPricing();
});
$("prices-close").addEventListener("click", () => $("prices-dialog").close());

/** The answer of a price verb is the whole price list: shown at once, before the event arrives. */
function takePricing(data) {
  pricing = data;
  applyPricing();
}

async function removePriceItem(button, kind, item, verb) {
  // A second tap confirms, as for Stop: a removal changes what the desk can sell from now on.
  if (button.dataset.armed !== "1") {
    for (const other of document.querySelectorAll("#prices-lists button[data-armed]")) { delete other.dataset.armed; other.textContent = "Remove"; other.classList.remove("armed"); }
    button.dataset.armed = "1";
    button.textContent = "Tap again to remove";
    button.classList.add("armed");
    return;
  }
  button.disabled = true;
  const result = await api(`/api/request/${verb}`, { [kind]: item.id });
  button.disabled = false;
  if (result.status === 401) { showLogin("Your sign-in has ended. Please sign in again."); return; }
  if (result.data?.status !== "ok") {
    delete button.dataset.armed;
    button.textContent = "Remove";
    button.classList.remove("armed");
    $("prices-error").textContent = `${kind} ${item.id} not removed: ${hubMessage(result)}`;
    return;
  }
  $("prices-error").textContent = "";
  takePricing(result.data.data);
  toast(`Removed ${kind} ${item.id} (${item.name}).`);
}

// ----- the editor -----

function field(label, input, hint) {
  return el("label", { class: "pf-field" }, el("span", { text: label }), input, hint ? el("small", { class: "muted", text: hint }) : null);
}

function textInput(id, value, props = {}) {
  return el("input", { id, value: value ?? "", autocomplete: "off", spellcheck: "false", ...props });
}

function checkboxes(name, choices, checked, words = (v) => v) {
  return el("div", { class: "checks", dataset: { group: name } }, choices.map((value) =>
    el("label", { class: "check" }, el("input", { type: "checkbox", name, value, checked: checked.includes(value) }), words(value))));
}

const checkedValues = (root, name) => [...root.querySelectorAll(`input[name="${name}"]:checked`)].map((i) => i.value);
const unique = (list) => [...new Set(list)];

function ruleRow(rule) {
  const row = el("div", { class: "rule-row" },
    checkboxes("rule-day", DAYS, rule?.days || [], (d) => DAY_WORDS[d]),
    textInput("", rule?.from, { class: "rule-from", placeholder: "HH:MM", "aria-label": "From", maxlength: 5 }),
    el("span", { text: "–" }),
    textInput("", rule?.to, { class: "rule-to", placeholder: "HH:MM", "aria-label": "To", maxlength: 5 }),
    textInput("", rule ? decimalText(rule.per_hour) : "", { class: "rule-rate", inputmode: "decimal", placeholder: "per hour", "aria-label": "Rate per hour" }),
    el("button", { type: "button", class: "small ghost rule-remove", onclick: () => row.remove() }, "Remove rule"));
  return row;
}

function planFields(p) {
  const zones = unique([...(floor ? [...floor.stations.values()].map((s) => s.zone).filter(Boolean) : []), ...(p?.zones || [])]).sort();
  const kinds = unique([...(floor ? [...floor.stations.values()].map((s) => s.kind) : []), ...(p?.kinds || [])]).sort();
  const inSeconds = p && p.step_s % 60 !== 0;
  const rules = el("div", { id: "pf-rules", class: "rules-edit" }, (p?.rules || []).map(ruleRow));
  return [
    field("Id", textInput("pf-id", p?.id, { readonly: Boolean(p), placeholder: "e.g. standard" })),
    field("Name", textInput("pf-name", p?.name, { maxlength: 64 })),
    field(`Rate per hour (${currency()})`, textInput("pf-rate", p ? decimalText(p.per_hour) : "", { inputmode: "decimal", placeholder: "e.g. 3.00" })),
    field("Billing step", el("span", { class: "inline" },
      textInput("pf-step", p ? String(inSeconds ? p.step_s : p.step_s / 60) : "1", { inputmode: "numeric" }),
      el("select", { id: "pf-step-unit", "aria-label": "Step unit" },
        el("option", { value: "60", selected: !inSeconds }, "minutes"), el("option", { value: "1", selected: inSeconds }, "seconds"))),
      "time is charged in whole steps; every session pays at least one"),
    field(`Minimum (${currency()})`, textInput("pf-minimum", p?.minimum ? decimalText(p.minimum) : "", { inputmode: "decimal", placeholder: "none" })),
    field("Zones", checkboxes("pf-zone", zones, p?.zones || []), "none ticked: every zone"),
    field("Kinds", checkboxes("pf-kind", kinds, p?.kinds || []), "none ticked: every kind"),
    field("Pay-later limit (minutes)", textInput("pf-postpaid", p?.postpaid_limit_minutes ?? "", { inputmode: "numeric", placeholder: "no pay later" })),
    el("div", { class: "pf-field" }, el("span", { text: "Rules (the first covering an instant sets its rate; from ≥ to runs past midnight)" }), rules,
      el("button", { type: "button", id: "pf-add-rule", class: "small", onclick: () => rules.append(ruleRow(null)) }, "Add rule")),
  ];
}

function packageFields(p) {
  const zones = unique([...(floor ? [...floor.stations.values()].map((s) => s.zone).filter(Boolean) : []), ...(p?.zones || [])]).sort();
  const byUntil = Boolean(p?.until);
  const length = el("div", { class: "pf-field" }, el("span", { text: "Length" }),
    el("label", { class: "check" }, el("input", { type: "radio", name: "pf-length", value: "minutes", checked: !byUntil }), "minutes ",
      textInput("pf-minutes", p?.minutes ?? "", { inputmode: "numeric", placeholder: "e.g. 120" })),
    el("label", { class: "check" }, el("input", { type: "radio", name: "pf-length", value: "until", checked: byUntil }), "until ",
      textInput("pf-until", p?.until, { placeholder: "HH:MM", maxlength: 5 }),
      " at least ", textInput("pf-min-minutes", p?.min_minutes ?? "", { inputmode: "numeric", placeholder: "30" }), " min away"));
  return [
    field("Id", textInput("pf-id", p?.id, { readonly: Boolean(p), placeholder: "e.g. 2h" })),
    field("Name", textInput("pf-name", p?.name, { maxlength: 64 })),
    field(`Price (${currency()})`, textInput("pf-price", p ? decimalText(p.price) : "", { inputmode: "decimal", placeholder: "e.g. 5.50" })),
    length,
    field("Plans", checkboxes("pf-plan", unique([...(pricing?.plans || []).map((x) => x.id), ...(p?.plans || [])]), p?.plans || []), "none ticked: every plan"),
    field("Zones", checkboxes("pf-zone", zones, p?.zones || []), "none ticked: every zone"),
    field("Sale hours", el("span", { class: "inline" },
      textInput("pf-sale-from", p?.sale_hours?.from, { placeholder: "HH:MM", maxlength: 5, "aria-label": "Sold from" }), "–",
      textInput("pf-sale-to", p?.sale_hours?.to, { placeholder: "HH:MM", maxlength: 5, "aria-label": "Sold to" })), "both empty: at any hour"),
    field("Days of sale", checkboxes("pf-day", DAYS, p?.days || [], (d) => DAY_WORDS[d]), "none ticked: every day"),
    field("Sold until (UTC)", textInput("pf-available-until", p?.available_until, { placeholder: "e.g. 2027-01-31T23:00:00Z" }), "empty: no end"),
  ];
}

function tierFields(t) {
  return [
    field("Id", textInput("pf-id", t?.id, { readonly: Boolean(t), placeholder: "e.g. gold" })),
    field("Name", textInput("pf-name", t?.name, { maxlength: 64 })),
    field("Discount (%)", textInput("pf-discount", t?.discount_percent ?? "", { inputmode: "numeric", placeholder: "0-100" })),
  ];
}

const FORM_WORDS = { plan: "rate plan", package: "package", tier: "tier" };

function openPriceForm(kind, item) {
  priceEdit = { kind, original: item };
  $("price-form-title").textContent = item ? `Edit ${FORM_WORDS[kind]} ${item.id}` : `Add a ${FORM_WORDS[kind]}`;
  $("price-fields").replaceChildren(...(kind === "plan" ? planFields(item) : kind === "package" ? packageFields(item) : tierFields(item)));
  $("price-error").textContent = "";
  $("prices-lists").hidden = true;
  $("price-form").hidden = false;
  $(item ? "pf-name" : "pf-id").focus();
}

function closePriceForm() {
  priceEdit = null;
  $("price-form").hidden = true;
  $("prices-lists").hidden = false;
}

$("price-cancel").addEventListener("click", closePriceForm);
for (const [id, kind] of [["plan-add", "plan"], ["package-add", "package"], ["tier-add", "tier"]]) {
  $(id).addEventListener("click", () => openPriceForm(kind, null));
}

/** Thrown by the body builders: a field that cannot be turned into the request, in plain words. */
class FormError extends Error {}

function amountField(id, label, { optional = false, max }) {
  const text = $(id).value.trim();
  if (optional && text === "") return undefined;
  const parsed = parseAmount(text, currency(), { allowZero: true, max });
  if (parsed.error) throw new FormError(`${label}: ${parsed.error}`);
  return parsed.amount;
}

/** A whole number as typed ("0" too: the hub says what range it takes), or undefined when empty and optional. */
function wholeField(input, label, { optional = false } = {}) {
  const text = input.value.trim();
  if (optional && text === "") return undefined;
  if (!/^\d{1,15}$/.test(text)) throw new FormError(`${label}: type a whole number.`);
  return Number(text);
}

function planBody() {
  const root = $("price-fields");
  const plan = { id: $("pf-id").value.trim(), name: $("pf-name").value,
    per_hour: amountField("pf-rate", "Rate per hour", { max: MAX_PER_HOUR }),
    step_s: wholeField($("pf-step"), "Billing step") * Number($("pf-step-unit").value) };
  const minimum = amountField("pf-minimum", "Minimum", { optional: true, max: MAX_PRICE });
  if (minimum !== undefined) plan.minimum = minimum;
  const zones = checkedValues(root, "pf-zone");
  if (zones.length) plan.zones = zones;
  const kinds = checkedValues(root, "pf-kind");
  if (kinds.length) plan.kinds = kinds;
  const postpaid = wholeField($("pf-postpaid"), "Pay-later limit", { optional: true });
  if (postpaid !== undefined) plan.postpaid_limit_minutes = postpaid;
  plan.rules = [...root.querySelectorAll(".rule-row")].map((row, i) => {
    const rate = parseAmount(row.querySelector(".rule-rate").value, currency(), { allowZero: true, max: MAX_PER_HOUR });
    if (rate.error) throw new FormError(`Rule ${i + 1}, rate per hour: ${rate.error}`);
    // Times go as typed: the hub checks HH:MM and names the rule in its refusal.
    return { days: checkedValues(row, "rule-day"), from: row.querySelector(".rule-from").value.trim(),
      to: row.querySelector(".rule-to").value.trim(), per_hour: rate.amount };
  });
  return { verb: "rate/set", body: { plan } };
}

function packageBody() {
  const root = $("price-fields");
  const p = { id: $("pf-id").value.trim(), name: $("pf-name").value, price: amountField("pf-price", "Price", { max: MAX_PRICE }) };
  if (root.querySelector('input[name="pf-length"]:checked')?.value === "until") {
    p.until = $("pf-until").value.trim();
    const min = wholeField($("pf-min-minutes"), "At least … minutes away", { optional: true });
    if (min !== undefined) p.min_minutes = min;
  } else {
    p.minutes = wholeField($("pf-minutes"), "Minutes");
  }
  const plans = checkedValues(root, "pf-plan");
  if (plans.length) p.plans = plans;
  const zones = checkedValues(root, "pf-zone");
  if (zones.length) p.zones = zones;
  const from = $("pf-sale-from").value.trim(), to = $("pf-sale-to").value.trim();
  if (from || to) p.sale_hours = { from, to };
  const days = checkedValues(root, "pf-day");
  if (days.length) p.days = days;
  const until = $("pf-available-until").value.trim();
  if (until) p.available_until = until;
  return { verb: "package/set", body: { package: p } };
}

function tierBody() {
  return { verb: "tier/set", body: { tier: { id: $("pf-id").value.trim(), name: $("pf-name").value,
    discount_percent: wholeField($("pf-discount"), "Discount") } } };
}

$("price-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  if (!priceEdit) return;
  const { kind } = priceEdit;
  let request;
  try {
    request = kind === "plan" ? planBody() : kind === "package" ? packageBody() : tierBody();
  } catch (error) {
    if (!(error instanceof FormError)) throw error;
    $("price-error").textContent = error.message;
    return;
  }
  $("price-error").textContent = "";
  $("price-save").disabled = true;
  const result = await api(`/api/request/${request.verb}`, request.body);
  $("price-save").disabled = false;
  if (result.status === 401) { showLogin("Your sign-in has ended. Please sign in again."); return; }
  if (result.data?.status !== "ok") {
    // The hub's words (with the field's path for a malformed one), next to the form to fix it.
    $("price-error").textContent = hubMessage(result);
    return;
  }
  const item = request.body[kind];
  closePriceForm();
  takePricing(result.data.data);
  toast(`Saved ${FORM_WORDS[kind]} ${item.id} (${item.name.trim()}): new sales use it now.`);
});

// ---------- member edit (managers) ----------

$("member-edit").addEventListener("click", () => {
  const m = memberData;
  if (!m) return;
  $("edit-member-id").textContent = m.member;
  $("edit-name").value = m.name;
  $("edit-contact").value = m.contact || "";
  const tiers = pricing?.tiers || [];
  $("edit-tier").replaceChildren(el("option", { value: "", text: "no tier" }),
    ...tiers.map((t) => el("option", { value: t.id, text: `${t.name} (${t.discount_percent}% off)` })),
    // A tier removed from the prices since stays selectable as it is, so saving changes nothing unasked.
    ...(m.tier && !tiers.some((t) => t.id === m.tier) ? [el("option", { value: m.tier, text: m.tier })] : []));
  $("edit-tier").value = m.tier || "";
  $("member-edit-error").textContent = "";
  $("member-edit-dialog").showModal();
  $("edit-name").focus();
});
$("member-edit-cancel").addEventListener("click", () => $("member-edit-dialog").close());
$("member-edit-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const m = memberData;
  if (!m) return;
  // Only what changed is sent; an emptied contact or "no tier" is sent as null, which clears it.
  const body = { member: m.member };
  const name = $("edit-name").value.trim();
  if (name !== m.name) body.name = name;
  const contact = $("edit-contact").value.trim();
  if (contact !== (m.contact || "")) body.contact = contact || null;
  const tier = $("edit-tier").value;
  if (tier !== (m.tier || "")) body.tier = tier || null;
  if (Object.keys(body).length === 1) { $("member-edit-dialog").close(); return; }
  $("member-edit-send").disabled = true;
  const answer = await memberRequest("member/update", body);
  $("member-edit-send").disabled = false;
  if (!answer) return;
  if (answer.error) { $("member-edit-error").textContent = answer.error; return; }
  $("member-edit-dialog").close();
  toast(`Member ${answer.data.member} saved.`);
  showMember(m.member);
});

// ---------- money events ----------

// Per session, the seconds each start or desk extension gave ([event id, seconds]), so a sale's
// line can say what it bought: the sale event itself names only its kind.
const sessionTimes = new Map();

function noteSessionTime(e) {
  if (!e.session || !e.data) return;
  let seconds = null;
  if (e.type === "session.started" && typeof e.data.granted_s === "number") seconds = e.data.granted_s;
  if (e.type === "session.extended" && e.data.reason !== "balance" && typeof e.data.added_s === "number") seconds = e.data.added_s;
  if (seconds === null) return;
  const list = sessionTimes.get(e.session) || [];
  if (!list.some(([id]) => id === e.id)) list.push([e.id, seconds]);
  sessionTimes.set(e.session, list);
  if (sessionTimes.size > 500) sessionTimes.delete(sessionTimes.keys().next().value);
}

function timeBought(e) {
  const list = sessionTimes.get(e.session || e.data?.session) || [];
  let best = null;
  for (const [id, seconds] of list) if (id < e.id && (!best || id > best[0])) best = [id, seconds];
  return best?.[1] ?? null;
}

/** A money or member event as one sentence ("Sale 12: 3 hours, 8.00 EUR cash by desk"), or null. */
function moneySentence(e) {
  const d = e.data || {};
  const by = d.by ? ` by ${d.by}` : "";
  const code = d.currency || currency();
  const amount = d.amount_text || (typeof d.amount === "number" ? formatMoney(d.amount, code) : "");
  const reason = d.reason ? ` · “${d.reason}”` : "";
  const paid = (method) => (method === "account" ? `from ${d.member}'s account` : PAID_WORDS[method] || method);
  switch (e.type) {
    case "sale.completed": {
      const seconds = timeBought(e);
      const what = d.kind === "package" ? (seconds ? `package of ${formatDuration(seconds)}` : "package") : seconds ? formatDuration(seconds) : "time";
      return `Sale ${d.sale}: ${what}, ${amount} ${paid(d.method)}${by}`;
    }
    case "member.topup":
      return `Top-up ${d.member} +${amount} ${d.method}${by}${typeof d.balance === "number" ? ` · balance ${formatMoney(d.balance, code)}` : ""}`;
    case "session.charged":
      return d.member ? `Charged ${d.member} ${amount} for ${e.station}${typeof d.balance === "number" ? ` · balance ${formatMoney(d.balance, code)}` : ""}`
        : `Charged ${amount} for ${e.station}, pay later (collect at the counter)`;
    case "sale.refunded": return `Refund of sale ${d.refers_to}: ${amount} ${REFUND_WORDS[d.method] || d.method}${by}${reason}`;
    case "sale.voided": return `Void of sale ${d.refers_to}: ${amount} ${paid(d.method)}${by}${reason}`;
    case "member.added": return `Member ${d.member} added (${d.name}${d.tier ? `, ${d.tier}` : ""})${by}`;
    case "member.updated": return `Member ${d.member} changed (${d.name}${d.tier ? `, ${d.tier}` : ""})${by}`;
    case "member.disabled": return `Member ${d.member} ${d.disabled ? "disabled" : "enabled"}${by}`;
    case "member.pin_set": return `PIN set for ${d.member}${by}`;
    case "member.signed_in": return `${d.member} signed in at the station`;
    case "member.signed_out": return `${d.member} signed out at the station`;
    case "member.sign_in_failed":
      return `Sign-in refused for ${d.member}: ${d.reason === "wrong_pin" ? "wrong PIN" : String(d.reason || "").replaceAll("_", " ")}` +
        (typeof d.attempts_left === "number" ? ` (${d.attempts_left} tries left)` : "");
    case "member.locked": return `${d.member} locked out of sign-in until ${formatTime(d.until)}`;
    case "pricing.changed": return `Prices changed${by}`;
    default: return null;
  }
}

/** Keeps the member's card and the prices current as money events arrive. */
function moneyEvent(e) {
  if (e.type === "pricing.changed") { loadPricing(); return; }
  const member = e.data?.member;
  if (memberShown && member === memberShown && (e.type.startsWith("member.") || e.type.startsWith("sale.") || e.type.startsWith("session."))) refreshMember();
}

start();
