// KPI tiles (city-wide, with trend arrows) and the values the map shades districts by.
// The KPI endpoint is read defensively: an aggregator without it shows "no data", and the
// reader accepts a city-wide object, a list of districts, or one row per (district, KPI).

import { $, h, number, shortId } from "./dom.js";
import { on, state } from "./store.js";

const SKIP = new Set(["id", "district", "name", "type", "at", "ts", "updated_at", "computed_at", "window", "window_s", "start", "end"]);
const LEVELS = { green: "#3b8f4f", good: "#3b8f4f", amber: "#d39a1c", moderate: "#d39a1c", red: "#c0392b", poor: "#c0392b", bad: "#c0392b" };
const previous = new Map(); // "scope:KPI name" -> last value seen, for trends the API does not give
let scope = "city"; // the tiles show the city, or one district (its URN)

// Where an object-valued KPI keeps its headline value, in order of preference, and its unit.
const PRIMARY = ["value", "level", "status", "index", "laeq_db", "load_kw"];
const UNITS = { laeq_db: "dB", load_kw: "kW" };
const EAQI = ["", "good", "fair", "moderate", "poor", "very poor", "extremely poor"];

function kpi(value, name) {
  if (value === null || value === undefined) return { value: null };
  if (typeof value === "object" && !Array.isArray(value)) {
    const key = PRIMARY.find((k) => k in value);
    if (key === undefined) return null;
    const v = value[key];
    const previous = value[`previous_${key}`];
    let trend = value.trend;
    if (trend === undefined && typeof v === "number" && typeof previous === "number") trend = v - previous;
    // A level (the European Air Quality Index: 1..6) reads with its name beside the number.
    const named = value.label || (name === "air_quality" ? EAQI[v] : undefined);
    const text = key === "level" && typeof v === "number" && named ? `${v} ${named}` : undefined;
    return { value: v ?? null, unit: value.unit ?? UNITS[key], trend, text };
  }
  if (typeof value === "number" || typeof value === "string") return { value };
  return null;
}

function fields(row) {
  const out = new Map();
  const nested = row.kpis && typeof row.kpis === "object" ? row.kpis : row;
  if (Array.isArray(nested)) {
    for (const item of nested) if (item && (item.kpi || item.name)) out.set(item.kpi || item.name, kpi(item, item.kpi || item.name));
    return out;
  }
  for (const [name, value] of Object.entries(nested)) {
    if (SKIP.has(name)) continue;
    const read = kpi(value, name);
    if (read) out.set(name, read);
  }
  return out;
}

/** {city: Map(name -> {value, unit, trend}), districts: Map(urn -> Map(name -> ...))}. */
export function normalise(raw) {
  const out = { city: new Map(), districts: new Map() };
  if (!raw) return out;
  const rows = Array.isArray(raw) ? raw : raw.districts || raw.items || [];
  if (!Array.isArray(raw) && raw.city && typeof raw.city === "object") out.city = fields(raw.city);
  for (const row of Array.isArray(rows) ? rows : Object.entries(rows).map(([district, v]) => ({ district, ...v }))) {
    if (!row || typeof row !== "object") continue;
    const district = row.district ?? row.id ?? null;
    const target = district ? out.districts.get(district) || new Map() : out.city;
    if ((row.kpi || row.metric) && "value" in row) target.set(row.kpi || row.metric, kpi(row, row.kpi || row.metric));
    else for (const [name, value] of fields(row)) target.set(name, value);
    if (district) out.districts.set(district, target);
  }
  return out;
}

export function kpiNames(raw) {
  const read = normalise(raw);
  const names = new Set(read.city.keys());
  for (const values of read.districts.values()) for (const name of values.keys()) names.add(name);
  return [...names].sort();
}

export function districtValue(raw, districtUrn, name) {
  const read = normalise(raw);
  const values = read.districts.get(districtUrn) || read.districts.get(shortId(districtUrn));
  const found = values ? values.get(name) : undefined;
  return found && found.value !== null && found.value !== undefined ? found.value : null;
}

/** A fill for a district: a level's own colour, else a light-to-dark scale over all districts. */
export function shadeColour(name, value) {
  if (value === null) return "#d5d8dc";
  if (typeof value === "string") return LEVELS[value.toLowerCase()] || "#9aa3ad";
  const values = [...normalise(state.kpis).districts.values()]
    .map((v) => v.get(name)?.value)
    .filter((v) => typeof v === "number");
  const lo = Math.min(...values);
  const hi = Math.max(...values);
  const t = hi > lo ? (value - lo) / (hi - lo) : 0.5;
  return `hsl(28 80% ${Math.round(88 - t * 50)}%)`;
}

function trend(name, read) {
  let direction = 0;
  const key = `${scope}:${name}`;
  if (typeof read.trend === "number") direction = Math.sign(read.trend);
  else if (typeof read.trend === "string") direction = /up|ris|incr|wors/i.test(read.trend) ? 1 : /down|fall|decr|bett/i.test(read.trend) ? -1 : 0;
  else if (typeof read.value === "number" && typeof previous.get(key) === "number") direction = Math.sign(read.value - previous.get(key));
  if (typeof read.value === "number") previous.set(key, read.value);
  const [arrow, words] = direction > 0 ? ["↑", "rising"] : direction < 0 ? ["↓", "falling"] : ["→", "steady"];
  return h("span", { class: "trend", title: words }, h("span", { "aria-hidden": "true" }, arrow), h("span", { class: "visually-hidden" }, words));
}

function tile(name, read) {
  const value = read.value;
  const shown = read.text || (typeof value === "number" ? number(value, 2) : value === null ? "no data" : String(value));
  return h(
    "div",
    { class: "tile", dataset: { kpi: name } },
    h("span", { class: "tile-label" }, name.replaceAll("_", " ")),
    h("span", { class: "tile-value" }, shown, read.unit ? h("small", {}, ` ${read.unit}`) : null, value === null ? null : trend(name, read)),
  );
}

// The tiles' scope: the city, or one district, chosen by the operator (a district's own KPIs
// with their trends, as the command centre's wall shows them for the district on duty).
function scopeChooser(read) {
  const names = new Map((state.kpis?.items || []).filter((r) => r && r.district).map((r) => [r.district, r.name]));
  const options = [h("option", { value: "city" }, "City")];
  for (const urn of [...read.districts.keys()].sort()) {
    options.push(h("option", { value: urn }, names.get(urn) || shortId(urn)));
  }
  const select = h("select", { id: "kpi-scope", "aria-label": "KPIs of" }, ...options);
  select.value = read.districts.has(scope) ? scope : "city";
  select.addEventListener("change", () => {
    scope = select.value;
    renderKpis();
    $("#kpi-scope")?.focus();
  });
  return h("label", { class: "kpi-scope" }, h("span", { class: "tile-label" }, "KPIs of"), select);
}

export function renderKpis() {
  const root = $("#kpis");
  const read = state.kpis === null ? null : normalise(state.kpis);
  if (read === null || read.city.size === 0) {
    const why = read === null ? "no data" : `no city-wide data (${read.districts.size} districts)`;
    root.replaceChildren(h("div", { class: "tile tile-empty", dataset: { kpi: "none" } }, h("span", { class: "tile-label" }, "KPIs"), h("span", { class: "tile-value" }, why)));
    return;
  }
  if (scope !== "city" && !read.districts.has(scope)) scope = "city";
  const values = scope === "city" ? read.city : read.districts.get(scope);
  root.dataset.scope = scope;
  root.replaceChildren(scopeChooser(read), ...[...values].map(([name, value]) => tile(name, value)));
}

export function initKpis() {
  on("kpis", renderKpis);
  renderKpis();
}
