// Shared by the front desk (app.js) and the wall board (board.js): the live floor model,
// countdown arithmetic and small DOM helpers. Plain ES modules, no build step, no CDN.

export const STATUS_LABELS = {
  idle: "Idle", active: "In session", warned: "Ending soon", paused: "Paused", expired: "Time up",
  offline: "Offline", maintenance: "Maintenance", alarm: "Alarm",
};

/** Creates an element: el("div", {class: "x", dataset: {a: 1}}, "text", child). Text is never parsed as HTML. */
export function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") node.className = value;
    else if (key === "dataset") Object.assign(node.dataset, value);
    else if (key === "text") node.textContent = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

/** 3725 -> "1:02:05", 125 -> "2:05". */
export function formatRemaining(seconds) {
  const s = Math.max(0, Math.floor(seconds));
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), r = s % 60;
  const mm = h > 0 ? String(m).padStart(2, "0") : String(m);
  return (h > 0 ? `${h}:` : "") + `${mm}:${String(r).padStart(2, "0")}`;
}

export function formatTime(iso) {
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? "" : d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit" });
}

/**
 * The live floor: every station's latest state from the hub's event stream (/api/live), a
 * correction for this device's clock against the hub's, and callbacks for what changed.
 * The countdowns tick here, in the browser, from each session's `ends_at`: the hub sends
 * nothing per second.
 */
export class LiveFloor {
  constructor(url, handlers) {
    this.url = url;
    this.handlers = handlers;
    this.stations = new Map();
    this.policy = {};
    this.offsetMs = 0;
    this.source = null;
  }

  connect() {
    this.source?.close();
    const source = new EventSource(this.url);
    this.source = source;
    source.addEventListener("snapshot", (e) => {
      const data = JSON.parse(e.data);
      this.offsetMs = data.server_time_ms - Date.now();
      this.policy = data.policy || {};
      this.stations = new Map(data.stations.map((s) => [s.station, s]));
      this.handlers.broker?.(data.broker);
      this.handlers.snapshot?.();
    });
    source.addEventListener("state", (e) => {
      const state = JSON.parse(e.data);
      this.stations.set(state.station, state);
      this.handlers.state?.(state);
    });
    source.addEventListener("removed", (e) => {
      const { station } = JSON.parse(e.data);
      this.stations.delete(station);
      this.handlers.removed?.(station);
    });
    source.addEventListener("event", (e) => this.handlers.event?.(JSON.parse(e.data)));
    source.addEventListener("broker", (e) => this.handlers.broker?.(JSON.parse(e.data).connected));
    source.onerror = () => {
      this.handlers.lost?.();
      // A refusal (503 while the hub serves its maximum of live feeds) closes the stream for
      // good instead of reconnecting: try again after the hub's Retry-After.
      if (source.readyState === EventSource.CLOSED && this.source === source) {
        clearTimeout(this.retry);
        this.retry = setTimeout(() => { if (this.source === source) this.connect(); }, 5000);
      }
    };
  }

  close() {
    clearTimeout(this.retry);
    this.source?.close();
    this.source = null;
  }

  /** Now on the hub's clock, in ms. */
  now() {
    return Date.now() + this.offsetMs;
  }

  /** Seconds left in the station's session, or null when it has none. */
  remaining(station) {
    const session = station.session;
    if (!session) return null;
    if (session.paused || !session.ends_at) return session.remaining_s;
    // Never above what the hub last said: remaining time only goes down between its updates, and
    // this device's clock offset is known only to within the network delay.
    const left = Math.ceil((Date.parse(session.ends_at) - this.now()) / 1000);
    return Math.max(0, Math.min(left, session.remaining_s));
  }

  /** Stations grouped by zone (stations without one last), each group sorted by id. */
  zones() {
    const groups = new Map();
    for (const s of [...this.stations.values()].sort((a, b) => a.station.localeCompare(b.station))) {
      const zone = s.zone || "";
      if (!groups.has(zone)) groups.set(zone, []);
      groups.get(zone).push(s);
    }
    return [...groups.entries()].sort(([a], [b]) => (a === "") - (b === "") || a.localeCompare(b));
  }

  /** What staff must look at now, in plain words. */
  alarms() {
    const out = [];
    const activeWatts = this.policy.plug_active_watts ?? 15;
    for (const s of this.stations.values()) {
      if (s.session && s.online === false) out.push({ station: s.station, kind: "offline", text: `${s.name}: agent offline during a session` });
      // playclock-agent lists in its heartbeat what it saw in the last minute (topics.md).
      const tamper = s.online === true && Array.isArray(s.agent?.tamper) ? s.agent.tamper.filter((r) => typeof r === "string") : [];
      if (tamper.length) out.push({ station: s.station, kind: "tamper", text: `${s.name}: agent reports tampering (${tamper.join(", ")})` });
      const plug = s.plug;
      if (!plug) continue;
      if (plug.alarm === "unconfirmed") out.push({ station: s.station, kind: "plug", text: `${s.name}: plug does not confirm the switch` });
      if (plug.alarm === "offline") out.push({ station: s.station, kind: "plug", text: `${s.name}: plug is offline` });
      if (!s.session && !plug.hold && typeof plug.watts === "number" && plug.watts >= activeWatts) {
        out.push({ station: s.station, kind: "power", text: `${s.name}: drawing ${plug.watts} W with no session` });
      }
    }
    return out;
  }
}

/** Text of a station's session line and health line. */
export function describe(station) {
  const parts = [];
  if (station.kind === "pc" || station.online !== null) {
    parts.push(station.online === true ? "agent online" : station.online === false ? "agent offline" : "agent unknown");
  }
  const plug = station.plug;
  if (plug) {
    const power = plug.power === true ? "on" : plug.power === false ? "off" : "?";
    let text = `plug ${plug.online === false ? "offline" : power}`;
    if (typeof plug.watts === "number") text += ` · ${plug.watts} W`;
    if (plug.hold) text += " · held on";
    parts.push(text);
  }
  return parts.join(" · ");
}

// ---------- money ----------
// Amounts are whole numbers of minor units (1250 is 12.50 EUR). They are turned into text and
// back with string arithmetic only: a float would turn 0.1 + 0.2 into 0.30000000000000004 and
// a typed "19.99" into 1998.9999999999998 cents.

// The ISO 4217 exponents the hub uses (PlayclockContract's Currency): 0 and 3 digits, else 2.
const ZERO_DIGIT_CODES = new Set(["BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG", "RWF", "UGX", "UYI", "VND", "VUV", "XAF", "XOF", "XPF"]);
const THREE_DIGIT_CODES = new Set(["BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"]);

/** Digits after the decimal point of the currency's major unit. */
export function minorDigits(currency) {
  return ZERO_DIGIT_CODES.has(currency) ? 0 : THREE_DIGIT_CODES.has(currency) ? 3 : 2;
}

/** 1250, "EUR" -> "12.50 EUR"; 1250, "JPY" -> "1250 JPY"; -5, "EUR" -> "-0.05 EUR" (as the hub's amount_text). */
export function formatMoney(minor, currency) {
  if (!Number.isSafeInteger(minor)) return "";
  const digits = minorDigits(currency);
  const sign = minor < 0 ? "-" : "";
  const text = String(Math.abs(minor)).padStart(digits + 1, "0");
  const major = digits === 0 ? text : `${text.slice(0, -digits)}.${text.slice(-digits)}`;
  return `${sign}${major} ${currency || ""}`.trimEnd();
}

/**
 * Typed text -> minor units: "20" -> 2000, "12.5" -> 1250, "0,05" -> 5 (EUR). A comma is taken
 * as the decimal point (as typed in much of Europe); no signs, no grouping, no more decimals than
 * the currency has. Returns {amount} or {error} in plain words. Payments are more than zero and at
 * most the hub's 100,000,000 minor units; prices (a free rate, a package's price) pass
 * `{allowZero: true, max}` with the catalogue's own limit.
 */
export function parseAmount(text, currency, { allowZero = false, max = 100000000 } = {}) {
  const digits = minorDigits(currency);
  const raw = String(text ?? "").trim();
  const match = /^(\d+)(?:[.,](\d*))?$/.exec(raw) || /^()[.,](\d+)$/.exec(raw);
  if (!match) return { error: `Type the amount in ${currency} as a plain number, e.g. ${digits ? `12.${"5".padEnd(digits, "0")}` : "1250"}.` };
  const [, whole, fraction = ""] = match;
  if (fraction.length > digits) {
    return { error: digits === 0 ? `${currency} has no decimals.` : `${currency} has at most ${digits} decimals.` };
  }
  const minorText = ((whole || "0") + fraction.padEnd(digits, "0")).replace(/^0+(?=\d)/, "");
  // Above `max` is refused; a digit string longer than 15 would not even be an exact Number.
  if (minorText.length > 15 || Number(minorText) > max) return { error: "That amount is too large." };
  const amount = Number(minorText);
  if (amount < 1 && !allowZero) return { error: "The amount must be more than zero." };
  return { amount };
}

/**
 * A fresh id for a money request's `transaction`: the hub applies a request once per id, so a
 * double click or a retry after a lost answer never charges twice. crypto.randomUUID() exists
 * only in secure contexts (HTTPS or localhost); a desk tablet on http://hub.venue.lan has only
 * crypto.getRandomValues, so the UUID (version 4) is made from that.
 */
export function newTransactionID() {
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const hex = [...b].map((x) => x.toString(16).padStart(2, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** 10800 -> "3 hours", 5400 -> "1 hour 30 minutes", 1800 -> "30 minutes". */
export function formatDuration(seconds) {
  const total = Math.max(0, Math.round(seconds / 60));
  const h = Math.floor(total / 60), m = total % 60;
  const parts = [];
  if (h) parts.push(`${h} hour${h === 1 ? "" : "s"}`);
  if (m || !h) parts.push(`${m} minute${m === 1 ? "" : "s"}`);
  return parts.join(" ");
}
