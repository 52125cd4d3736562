// The dashboard's entry point: sign-in, the view router (#/map, #/incidents[/id], #/fleet,
// #/entity/<id>), the first load, and the live refresh.

import { auth, whenUnauthorized } from "./api.js";
import { $ } from "./dom.js";
import { renderEntity } from "./entity.js";
import { initFleet } from "./fleet.js";
import { initIncidents, refreshIncidents, showIncident } from "./incidents.js";
import { initKpis } from "./kpis.js";
import { startLive } from "./live.js";
import { initMap, mapShown } from "./map.js";
import { showError } from "./notice.js";
import { emit, loadActiveIncidents, loadConfig, loadEntities, loadGateways, loadKpis, patchTwin } from "./store.js";

const VIEWS = ["map", "incidents", "fleet", "entity"];
let current = null;

function route() {
  const [view, ...rest] = location.hash.replace(/^#\/?/, "").split("/");
  const name = VIEWS.includes(view) ? view : "map";
  const arg = rest.length ? decodeURIComponent(rest.join("/")) : null;
  for (const v of VIEWS) $(`#view-${v}`).hidden = v !== name;
  for (const link of document.querySelectorAll("nav.views a")) {
    if (link.dataset.view === name) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  document.body.dataset.view = name;
  current = { name, arg };
  if (name === "map") mapShown();
  if (name === "incidents") {
    refreshIncidents();
    if (arg !== null) showIncident(Number(arg));
  }
  if (name === "entity" && arg !== null) renderEntity(arg);
}

function openLogin(reason) {
  const dialog = $("#login");
  if (dialog.open) return;
  $("#login-reason").textContent = reason;
  const form = $("#login-form");
  form.key.value = "";
  form.name.value = auth.name();
  dialog.showModal();
  form.key.focus();
}

function initLogin() {
  const dialog = $("#login");
  $("#key-button").addEventListener("click", () =>
    openLogin(auth.key() ? "A key is set for this tab. Enter another, or forget it." : "No key is set: the aggregator may be open (development mode)."),
  );
  dialog.addEventListener("close", () => {
    const form = $("#login-form");
    if (dialog.returnValue === "save") auth.save(form.key.value.trim(), form.name.value.trim());
    if (dialog.returnValue === "forget") auth.forget();
    if (dialog.returnValue !== "cancel") loadEverything();
    updateKeyButton();
  });
  whenUnauthorized((status) => {
    if (status === 401) openLogin(auth.key() ? "The aggregator refused this key. Enter a valid API key." : "The aggregator asks for an API key.");
  });
  updateKeyButton();
}

function updateKeyButton() {
  $("#key-button").textContent = auth.key() ? `Signed in as ${auth.name()}` : "API key";
}

async function loadEverything() {
  const results = await Promise.allSettled([loadEntities(), loadGateways(), loadActiveIncidents(), loadKpis()]);
  for (const r of results) if (r.status === "rejected") showError(r.reason);
  if (current && current.name === "incidents") refreshIncidents();
}

async function boot() {
  initLogin();
  // The config is small and only refines ages: load it beside the data, not before it.
  const config = loadConfig().catch(showError); // the defaults in store.js stand in
  initMap();
  initIncidents();
  initFleet();
  initKpis();
  window.addEventListener("hashchange", route);
  route();
  await Promise.all([config, loadEverything()]);
  startLive({
    entities: loadEntities,
    gateways: loadGateways,
    incidents: loadActiveIncidents,
    kpis: loadKpis,
    // The incident list has its own filters; the other views redraw from the shared state.
    view: async () => (current && current.name === "incidents" ? refreshIncidents() : undefined),
    redraw: async () => emit("statuses"),
  }, { twin: patchTwin });
  document.body.dataset.ready = "true"; // tests and the benchmark wait for this
}

boot().catch(showError);
