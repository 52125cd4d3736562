// The city map: district polygons (shaded by a KPI when the aggregator has KPIs), context shapes
// (sea, beaches, rivers, roads), and entities as clustered markers whose colour, shape and glyph
// all say their status. No tile layer: control rooms are often air-gapped, and the districts
// are the map.

import { $, h, shortId } from "./dom.js";
import { STATUSES, entityStatus, worst } from "./status.js";
import { districtValue, kpiNames, shadeColour } from "./kpis.js";
import { activeEntityIds, on, state } from "./store.js";
import { showEntityCard } from "./entity.js";

const CONTEXT_STYLE = {
  Sea: { color: "#7aa7c7", weight: 0, fillColor: "#cfe3f1", fillOpacity: 0.9 },
  Beach: { color: "#c9a85b", weight: 1, fillColor: "#f3e3b5", fillOpacity: 0.9 },
  River: { color: "#5b93c9", weight: 4, opacity: 0.8 },
  RoadSegment: { color: "#9aa3ad", weight: 1.5, opacity: 0.7 },
  Building: { color: "#b9bec4", weight: 0.5, fillColor: "#dde1e5", fillOpacity: 0.8 },
};

let map;
let districtLayer;
let sensorCluster;
let assetCluster;
const markers = new Map(); // entity id -> marker
const icons = new Map(); // status -> L.DivIcon, shared by every marker of that status
let fitted = false;

function icon(status) {
  if (!icons.has(status)) {
    const s = STATUSES[status];
    icons.set(
      status,
      L.divIcon({
        className: `mk mk-${status} mk-${s.shape}`,
        html: `<span aria-hidden="true">${s.glyph}</span>`,
        iconSize: [20, 20],
      }),
    );
  }
  return icons.get(status);
}

function clusterIcon(cluster) {
  const status = worst(cluster.getAllChildMarkers().map((m) => m.options.status));
  const s = STATUSES[status];
  const count = cluster.getChildCount();
  return L.divIcon({
    className: `cluster cluster-${status}`,
    html: `<span class="cluster-glyph" aria-hidden="true">${s.glyph}</span><span>${count}</span>`,
    iconSize: [40, 40],
  });
}

function clusterGroup() {
  const group = L.markerClusterGroup({
    iconCreateFunction: clusterIcon,
    chunkedLoading: true, // add 10,000 markers without freezing the page
    showCoverageOnHover: false,
    maxClusterRadius: 50,
  });
  // Clusters are reachable by keyboard too: Enter on a focused cluster zooms into it.
  group.on("clusterkeypress", (event) => {
    if (event.originalEvent.key === "Enter") event.layer.zoomToBounds({ padding: [20, 20] });
  });
  return group;
}

export function initMap() {
  // Clustering needs a zoom range; no tiles means no limit beyond what stays readable.
  map = L.map("map", { zoomSnap: 0.25, minZoom: 3, maxZoom: 20, attributionControl: false });
  map.setView([0, 0], 2);
  districtLayer = L.layerGroup().addTo(map);
  sensorCluster = clusterGroup().addTo(map);
  assetCluster = clusterGroup();
  renderLegend();
  $("#map-assets").addEventListener("change", (event) => {
    if (event.target.checked) assetCluster.addTo(map);
    else assetCluster.remove();
  });
  $("#map-shade").addEventListener("change", () => drawDistricts());
  on("entities", () => {
    drawDistricts();
    drawMarkers();
  });
  on("statuses", drawMarkers);
  on("gateways", drawMarkers);
  on("incidents", drawMarkers);
  on("kpis", updateShadeOptions);
}

/** Leaflet measures its container: call after the map's view becomes visible. */
export function mapShown() {
  if (map) map.invalidateSize();
}

function renderLegend() {
  const legend = $("#legend");
  legend.replaceChildren(
    ...Object.entries(STATUSES).map(([status, s]) =>
      h("li", {}, h("span", { class: `mk mk-${status} mk-${s.shape} legend-mk`, "aria-hidden": "true" }, h("span", {}, s.glyph)), s.label),
    ),
  );
}

function byType(type) {
  return [...state.entities.values()].filter((e) => e.type === type && e.location);
}

function drawDistricts() {
  districtLayer.clearLayers();
  for (const type of ["Sea", "Beach", "Building", "RoadSegment", "River"]) {
    const style = CONTEXT_STYLE[type];
    for (const e of byType(type)) {
      L.geoJSON(e.location, { style, interactive: false }).addTo(districtLayer);
    }
  }
  const shade = $("#map-shade").value;
  const bounds = L.latLngBounds([]);
  for (const d of byType("District")) {
    const value = shade ? districtValue(state.kpis, d.id, shade) : null;
    const layer = L.geoJSON(d.location, {
      style: {
        color: "#33475b",
        weight: 2,
        fillColor: shade ? shadeColour(shade, value) : "#eef1f4",
        fillOpacity: shade ? 0.55 : 0.35,
      },
    });
    layer.bindTooltip(
      `${d.name || shortId(d.id)}${shade ? ` · ${shade}: ${value === null ? "no data" : value}` : ""}`,
      { sticky: true },
    );
    layer.addTo(districtLayer);
    // Elements exist once on the map; tests find districts by this attribute.
    layer.eachLayer((shape) => shape.getElement?.()?.setAttribute("data-district", d.id));
    bounds.extend(layer.getBounds());
    // The district's name, readable without hovering.
    L.marker(layer.getBounds().getCenter(), {
      icon: L.divIcon({ className: "district-label", html: "", iconSize: null }),
      interactive: false,
      keyboard: false,
    })
      .addTo(districtLayer)
      .getElement().textContent = d.name || shortId(d.id);
  }
  if (!fitted) {
    const all = bounds.isValid() ? bounds : pointBounds();
    if (all.isValid()) {
      map.fitBounds(all, { padding: [10, 10] });
      fitted = true;
    }
  }
}

function pointBounds() {
  const bounds = L.latLngBounds([]);
  for (const e of state.entities.values()) {
    if (e.location && e.location.type === "Point") {
      bounds.extend([e.location.coordinates[1], e.location.coordinates[0]]);
    }
  }
  return bounds;
}

function isMarker(e) {
  return e.location && e.location.type === "Point";
}

function drawMarkers() {
  const context = {
    now: Date.now() / 1000,
    gateways: state.gateways,
    activeIncidents: activeEntityIds(),
    offlineAfterS: state.config.offline_after_s,
  };
  const addSensors = [];
  const addAssets = [];
  const changed = [];
  for (const e of state.entities.values()) {
    if (!isMarker(e) || e.type === "District") continue;
    const status = e.sensor ? entityStatus(e, context) : "nodata";
    const existing = markers.get(e.id);
    if (existing) {
      if (existing.options.status !== status) {
        existing.options.status = status;
        existing.options.title = title(e, status); // setIcon re-reads the title
        existing.setIcon(icon(status));
        changed.push(existing);
      }
      continue;
    }
    const [lon, lat] = e.location.coordinates;
    const marker = L.marker([lat, lon], { icon: icon(status), title: title(e, status), status });
    marker.on("click", () => showEntityCard(e.id));
    // Leaflet makes markers focusable but leaves Enter to us.
    marker.on("keypress", (event) => {
      if (event.originalEvent.key === "Enter") showEntityCard(e.id);
    });
    markers.set(e.id, marker);
    (e.sensor ? addSensors : addAssets).push(marker);
  }
  if (addSensors.length) sensorCluster.addLayers(addSensors);
  if (addAssets.length) assetCluster.addLayers(addAssets);
  if (changed.length) sensorCluster.refreshClusters(changed);
  const sensors = [...state.entities.values()].filter((e) => e.sensor).length;
  $("#map-count").textContent = `${sensors} sensors, ${byType("District").length} districts`;
  if (!fitted) drawDistricts();
  document.body.dataset.mapMarkers = String(markers.size); // read by tests and the benchmark
}

function title(entity, status) {
  return `${entity.name || shortId(entity.id)} (${entity.type}): ${STATUSES[status].label}`;
}

function updateShadeOptions() {
  const select = $("#map-shade");
  const current = select.value;
  const names = kpiNames(state.kpis);
  select.replaceChildren(
    h("option", { value: "" }, "none"),
    ...names.map((n) => h("option", { value: n, selected: n === current }, n)),
  );
  if (current) drawDistricts();
}
