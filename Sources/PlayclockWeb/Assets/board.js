// The wall board: large countdowns, no controls. Opened as /board?token=<read-only token>.
import { LiveFloor, STATUS_LABELS, el, formatRemaining } from "/assets/common.js";

const $ = (id) => document.getElementById(id);
const token = new URLSearchParams(location.search).get("token") || "";
const floor = new LiveFloor(`/api/live?token=${encodeURIComponent(token)}`, {
  snapshot: () => { $("board-error").hidden = true; render(); },
  state: render,
  removed: render,
  broker: (connected) => {
    $("broker").className = `pill ${connected ? "pill-ok" : "pill-bad"}`;
    $("broker").textContent = connected ? "live" : "hub offline from broker";
  },
  lost: async () => {
    $("broker").className = "pill pill-unknown";
    $("broker").textContent = "reconnecting…";
    const check = await fetch(`/api/me?token=${encodeURIComponent(token)}`);
    if (check.status === 401) {
      floor.close();
      $("board-error").textContent = "This board's link has no valid token. Ask a manager for the board link.";
      $("board-error").hidden = false;
    }
  },
});

function render() {
  $("board").replaceChildren(...floor.zones().map(([zone, stations]) =>
    el("section", { class: "zone", dataset: { zone } },
      el("h2", { text: zone || "Other stations" }),
      el("div", { class: "tiles" }, stations.map((s) =>
        el("div", { class: `tile big status-${s.status}`, dataset: { station: s.station } },
          el("span", { class: "name", text: s.name }),
          el("span", { class: "countdown", text: "" }),
          el("span", { class: "status", text: STATUS_LABELS[s.status] || s.status })))))));
  tick();
}

function tick() {
  $("clock").textContent = new Date(floor.now()).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  for (const node of document.querySelectorAll(".tile")) {
    const s = floor.stations.get(node.dataset.station);
    const left = s ? floor.remaining(s) : null;
    node.querySelector(".countdown").textContent = left === null ? (s?.status === "idle" ? "free" : "") : formatRemaining(left);
  }
}

setInterval(tick, 1000);
floor.connect();
