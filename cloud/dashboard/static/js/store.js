// The page's one copy of what the API said, and a tiny publish/subscribe so each view redraws
// only when its data changed.

import { get, getAll, getOptional } from "./api.js";

export const state = {
  config: { stale_after_s: 90, offline_after_s: 300 },
  entities: new Map(), // id -> entity
  gateways: new Map(), // id -> gateway
  active: [], // open and acknowledged incidents
  kpis: null, // as the API sent it (kpis.js reads it), or null when there is none
  loaded: new Set(), // which of the above have been loaded at least once
};

const listeners = new Map();

export function on(topic, handler) {
  if (!listeners.has(topic)) listeners.set(topic, []);
  listeners.get(topic).push(handler);
}

export function emit(topic, detail) {
  for (const handler of listeners.get(topic) || []) handler(detail);
}

/** Entities that point at a place and can be drawn as a marker or shape. */
export async function loadEntities() {
  const items = await getAll("/api/v1/entities");
  state.entities = new Map(items.map((e) => [e.id, e]));
  state.loaded.add("entities");
  emit("entities");
}

export async function loadGateways() {
  const items = await getAll("/api/v1/gateways");
  state.gateways = new Map(items.map((g) => [g.id, g]));
  state.loaded.add("gateways");
  emit("gateways");
}

export async function loadActiveIncidents() {
  const [open, acknowledged] = await Promise.all([
    getAll("/api/v1/incidents", { state: "open" }),
    getAll("/api/v1/incidents", { state: "acknowledged" }),
  ]);
  state.active = open.concat(acknowledged);
  state.loaded.add("incidents");
  emit("incidents");
}

export async function loadConfig() {
  state.config = await get("/dashboard/config.json");
}

export async function loadKpis() {
  state.kpis = await getOptional("/api/v1/kpis");
  state.loaded.add("kpis");
  emit("kpis");
}

export const activeEntityIds = () => new Set(state.active.map((i) => i.entity));

/** Apply a ``twin`` event (an entity's new metric values); false if the entity is not known. */
export function patchTwin(change) {
  const entity = change && state.entities.get(change.entity);
  if (!entity || typeof change.status !== "object") return false;
  entity.status = { ...entity.status, ...change.status };
  return true;
}
