// The fleet: every gateway with the health it reported, status derived by the aggregator from
// heartbeat age (never from a socket). Sortable by any column, by mouse or keyboard.

import { $, age, clock, h, number } from "./dom.js";
import { on, state } from "./store.js";

const STATUS = { ONLINE: ["●", 0], STALE: ["◆", 1], OFFLINE: ["✕", 2] }; // glyph, badness

const hb = (g, field) => (g.heartbeat ? g.heartbeat[field] : null);

// [key, heading, value for sorting, cell]
const COLUMNS = [
  ["id", "Gateway", (g) => g.id, (g) => g.id],
  ["status", "Status", (g) => STATUS[g.status]?.[1] ?? 3, (g) => h("span", { class: `badge-fleet fleet-${g.status}` }, h("span", { "aria-hidden": "true" }, `${STATUS[g.status]?.[0] || "?"} `), g.status)],
  ["heartbeat", "Last heartbeat", (g) => g.heartbeat_age_s ?? Infinity, (g) => h("span", { title: clock(g.heartbeat_at) }, g.heartbeat_at ? `${age(g.heartbeat_age_s)} ago` : "never")],
  ["buffer", "Buffer depth", (g) => g.buffer_depth ?? -1, (g) => number(g.buffer_depth, 0)],
  ["unsent", "Oldest unsent", (g) => g.oldest_unsent_age_s ?? -1, (g) => age(g.oldest_unsent_age_s)],
  ["dead", "Dead letters", (g) => hb(g, "dead_letter_total") ?? -1, (g) => number(hb(g, "dead_letter_total"), 0)],
  ["shed", "Shed", (g) => hb(g, "shed_total") ?? -1, (g) => number(hb(g, "shed_total"), 0)],
  ["rate", "Readings/s", (g) => hb(g, "readings_per_s") ?? -1, (g) => number(hb(g, "readings_per_s"), 1)],
  ["model", "Model", (g) => hb(g, "model_version") || "", (g) => hb(g, "model_version") || "–"],
  ["clock", "Clock offset", (g) => Math.abs(hb(g, "clock_offset_s") ?? 0), (g) => (hb(g, "clock_offset_s") === null ? "–" : `${number(hb(g, "clock_offset_s"), 3)} s`)],
  ["cpu", "CPU", (g) => hb(g, "cpu_percent") ?? -1, (g) => (hb(g, "cpu_percent") === null ? "–" : `${number(hb(g, "cpu_percent"), 0)} %`)],
];
const NUMERIC = new Set(["buffer", "unsent", "dead", "shed", "rate", "clock", "cpu"]);

let sortKey = "status";
let descending = true; // worst first: an operator looks for trouble

function header() {
  const tr = $("#fleet-table thead tr");
  tr.replaceChildren(
    ...COLUMNS.map(([key, heading]) => {
      const sorted = key === sortKey;
      const arrow = sorted ? (descending ? " ▼" : " ▲") : "";
      return h(
        "th",
        { scope: "col", "aria-sort": sorted ? (descending ? "descending" : "ascending") : "none", class: NUMERIC.has(key) ? "num" : "" },
        h("button", { type: "button", class: "sort", dataset: { sort: key }, onclick: () => sortBy(key) }, heading, h("span", { "aria-hidden": "true" }, arrow)),
      );
    }),
  );
}

function sortBy(key) {
  descending = key === sortKey ? !descending : key === "status";
  sortKey = key;
  renderFleet();
  $(`#fleet-table button[data-sort="${key}"]`).focus();
}

export function renderFleet() {
  header();
  const value = COLUMNS.find(([key]) => key === sortKey)[2];
  const gateways = [...state.gateways.values()].sort((a, b) => {
    const [x, y] = [value(a), value(b)];
    const order = x < y ? -1 : x > y ? 1 : 0;
    // Ties in gateway order whichever way the column sorts, so rows do not jump on refresh.
    return (descending ? -order : order) || a.id.localeCompare(b.id);
  });
  $("#fleet-table tbody").replaceChildren(
    ...gateways.map((g) => h("tr", { dataset: { gateway: g.id, status: g.status } }, COLUMNS.map(([key, , , cell]) => h("td", { class: NUMERIC.has(key) ? "num" : "" }, cell(g))))),
  );
  $("#fleet-empty").hidden = gateways.length > 0;
}

export function initFleet() {
  on("gateways", renderFleet);
  renderFleet();
}
