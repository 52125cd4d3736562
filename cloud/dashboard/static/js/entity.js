// One entity: its card beside the map, and its detail view with a chart per metric (mean line,
// min/max band, anomaly markers, gaps left blank and shaded, drag to zoom, range presets).

import { get } from "./api.js";
import { $, ago, clock, h, number, shortId } from "./dom.js";
import { STATUSES, entityStatus } from "./status.js";
import { activeEntityIds, state } from "./store.js";
import { showError } from "./notice.js";

export const RANGES = { "1h": [3600, 60], "24h": [86400, 300], "7d": [604800, 1800] }; // span, step
const charts = []; // live uPlot instances of the entity view, destroyed on re-render
let resizer = null;

function statusOf(entity) {
  if (!entity.sensor) return null;
  return entityStatus(entity, {
    now: Date.now() / 1000,
    gateways: state.gateways,
    activeIncidents: activeEntityIds(),
    offlineAfterS: state.config.offline_after_s,
  });
}

function statusBadge(status) {
  if (!status) return null;
  const s = STATUSES[status];
  return h("span", { class: `status status-${status}` }, h("span", { class: `mk mk-${status} mk-${s.shape} legend-mk`, "aria-hidden": "true" }, h("span", {}, s.glyph)), s.label);
}

function metricRows(entity) {
  const rows = Object.entries(entity.status || {}).map(([metric, s]) =>
    h("tr", {}, h("th", { scope: "row" }, metric), h("td", { class: "num" }, number(s.value), s.unit ? ` ${s.unit}` : ""), h("td", {}, ago(s.observed_at))),
  );
  return rows.length ? h("table", { class: "table compact" }, h("tbody", {}, rows)) : h("p", { class: "muted" }, "No readings yet.");
}

/** The card of one entity beside the map. */
export async function showEntityCard(id) {
  const card = $("#entity-card");
  card.hidden = false;
  card.replaceChildren(h("p", { class: "muted" }, "loading…"));
  let entity;
  try {
    entity = await get(`/api/v1/entities/${encodeURIComponent(id)}`);
  } catch (error) {
    card.replaceChildren(h("p", { class: "error" }, error.message));
    return;
  }
  const district = entity.district ? state.entities.get(entity.district) : null;
  const gateway = entity.gateway ? state.gateways.get(entity.gateway) : null;
  const incidents = state.active.filter((i) => i.entity === entity.id);
  const heading = h("h2", { tabindex: "-1" }, entity.name || shortId(entity.id));
  card.replaceChildren(
    h("div", { class: "card-head" }, heading, h("button", { type: "button", class: "secondary", "aria-label": "Close entity card", onclick: () => (card.hidden = true) }, "×")),
    h("p", {}, statusBadge(statusOf(entity)), " ", h("span", { class: "muted" }, entity.type)),
    h("dl", { class: "facts" },
      h("dt", {}, "Id"), h("dd", { class: "mono" }, entity.id),
      h("dt", {}, "District"), h("dd", {}, district ? district.name || shortId(district.id) : shortId(entity.district) || "–"),
      h("dt", {}, "Gateway"), h("dd", {}, entity.gateway ? `${entity.gateway} (${gateway ? gateway.status : "unknown"})` : "–"),
      h("dt", {}, "Category"), h("dd", {}, entity.category.replaceAll("_", " ")),
    ),
    metricRows(entity),
    incidents.length ? h("p", {}, h("a", { href: `#/incidents/${incidents[0].id}` }, `${incidents.length} active incident${incidents.length > 1 ? "s" : ""}`)) : null,
    Object.keys(entity.status || {}).length ? h("p", {}, h("a", { class: "button", href: `#/entity/${encodeURIComponent(entity.id)}` }, "History charts")) : null,
  );
  heading.focus();
}

function gapShading(points) {
  return {
    hooks: {
      drawClear: [
        (u) => {
          const { ctx } = u;
          const top = u.bbox.top;
          const height = u.bbox.height;
          ctx.save();
          for (const p of points) {
            if (!p.gap) continue;
            const x0 = u.valToPos(p.start, "x", true);
            const x1 = u.valToPos(p.end, "x", true);
            // Reported missing data (shed, sequence gaps) darker than plain silence.
            const reported = p.gap_reasons.some((r) => r !== "no_data");
            ctx.fillStyle = reported ? "rgba(192, 57, 43, 0.14)" : "rgba(120, 130, 140, 0.12)";
            ctx.fillRect(x0, top, Math.max(1, x1 - x0), height);
          }
          ctx.restore();
        },
      ],
    },
  };
}

function chartData(points) {
  const xs = [];
  const mean = [];
  const low = [];
  const high = [];
  const anomalies = [];
  for (const p of points) {
    xs.push(p.start);
    mean.push(p.mean);
    low.push(p.min);
    high.push(p.max);
    anomalies.push(p.anomalies > 0 ? p.max : null);
  }
  return [xs, mean, low, high, anomalies];
}

function gapSummary(points) {
  const counts = {};
  for (const p of points) for (const reason of p.gap_reasons) counts[reason] = (counts[reason] || 0) + 1;
  const parts = Object.entries(counts).map(([reason, n]) => `${n} × ${reason.replace("_", " ")}`);
  return parts.length ? `gaps (steps): ${parts.join(", ")}` : "no gaps";
}

function plot(container, history) {
  const data = chartData(history.points);
  const values = data[1].filter((v) => v !== null).length;
  container.dataset.values = String(values);
  const options = {
    width: Math.max(320, container.clientWidth),
    height: 220,
    scales: { x: { time: true } },
    series: [
      {},
      { label: "mean", stroke: "#1f5f99", width: 2 },
      { label: "min", stroke: "#7ea6cc", width: 1, dash: [4, 4] },
      { label: "max", stroke: "#7ea6cc", width: 1, dash: [4, 4] },
      { label: "anomaly", stroke: "#c0392b", width: 0, paths: () => null, points: { show: true, size: 10, fill: "#c0392b" } },
    ],
    bands: [{ series: [3, 2], fill: "rgba(31, 95, 153, 0.16)" }],
    axes: [{}, { label: history.unit || "", size: 60 }],
    plugins: [gapShading(history.points)],
  };
  const chart = new uPlot(options, data, container);
  charts.push(chart);
  return values;
}

async function metricChart(entityId, metric, range) {
  const [span, step] = RANGES[range];
  const end = Math.ceil(Date.now() / 1000 / step) * step;
  const params = new URLSearchParams({ metric, start: end - span, end, step });
  const box = h("div", { class: "chart", dataset: { metric } });
  const caption = h("p", { class: "muted chart-caption" }, "loading…");
  const figure = h("figure", { class: "card chart-card" }, h("figcaption", {}, h("strong", {}, metric)), box, caption);
  $("#charts").append(figure);
  try {
    const history = await get(`/api/v1/entities/${encodeURIComponent(entityId)}/history?${params}`);
    const values = plot(box, history);
    caption.textContent = `${values} of ${history.points.length} steps of ${step} s with data · ${gapSummary(history.points)} · drag to zoom, double-click to reset`;
  } catch (error) {
    caption.textContent = error.message;
    caption.classList.add("error");
  }
}

/** The entity view: facts and one chart per metric over the chosen range. */
export async function renderEntity(id, range = "24h") {
  const root = $("#view-entity");
  for (const chart of charts.splice(0)) chart.destroy();
  let entity;
  try {
    entity = await get(`/api/v1/entities/${encodeURIComponent(id)}`);
  } catch (error) {
    root.replaceChildren(h("p", { class: "error" }, error.message));
    return;
  }
  const presets = Object.keys(RANGES).map((r) =>
    h("button", { type: "button", class: r === range ? "" : "secondary", "aria-pressed": String(r === range), onclick: () => renderEntity(id, r) }, r.replace("h", " h").replace("d", " d")),
  );
  root.replaceChildren(
    h("div", { class: "entity-head" },
      h("a", { href: "#/map" }, "← map"),
      h("h2", {}, entity.name || shortId(entity.id)),
      statusBadge(statusOf(entity)),
      h("span", { class: "muted" }, `${entity.type} · ${entity.id}`),
      h("div", { class: "presets", role: "group", "aria-label": "Time range" }, presets),
    ),
    h("div", { class: "entity-body" }, h("div", { id: "charts", class: "charts" }), h("aside", { class: "card" }, h("h3", {}, "Latest"), metricRows(entity), h("p", { class: "muted" }, `updated ${clock(entity.updated_at)}`))),
  );
  const metrics = Object.keys(entity.status || {}).sort();
  if (!metrics.length) $("#charts").append(h("p", { class: "muted" }, "This entity has no metrics."));
  await Promise.all(metrics.map((m) => metricChart(entity.id, m, range))).catch(showError);
  if (resizer) resizer.disconnect();
  resizer = new ResizeObserver(() => {
    for (const chart of charts) chart.setSize({ width: Math.max(320, chart.root.parentElement.clientWidth), height: 220 });
  });
  resizer.observe($("#charts"));
}
