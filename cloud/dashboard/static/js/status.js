// What state an entity is in, as the map shows it. Status is never colour alone: every status
// also has a shape and a glyph, and its name is in the marker's label.

export const STATUSES = {
  anomalous: { label: "anomalous", glyph: "!", shape: "triangle", rank: 4 },
  offline: { label: "offline", glyph: "×", shape: "square", rank: 3 },
  stale: { label: "stale", glyph: "?", shape: "diamond", rank: 2 },
  normal: { label: "normal", glyph: "✓", shape: "circle", rank: 1 },
  nodata: { label: "no data", glyph: "–", shape: "ring", rank: 0 },
};

/** The newest observation time of any metric of the entity, or null. */
export function newestObservation(entity) {
  let newest = null;
  for (const s of Object.values(entity.status || {})) {
    if (newest === null || s.observed_at > newest) newest = s.observed_at;
  }
  return newest;
}

/**
 * anomalous: an open or acknowledged incident is about it; offline: its gateway is OFFLINE;
 * stale: its gateway is STALE, or its newest value is older than the aggregator's offline age;
 * nodata: it never reported; normal otherwise.
 */
export function entityStatus(entity, context) {
  if (context.activeIncidents.has(entity.id)) return "anomalous";
  const gateway = entity.gateway ? context.gateways.get(entity.gateway) : undefined;
  const newest = newestObservation(entity);
  if (newest === null) return gateway && gateway.status === "OFFLINE" ? "offline" : "nodata";
  if (gateway && gateway.status === "OFFLINE") return "offline";
  if (gateway && gateway.status === "STALE") return "stale";
  if (context.now - newest > context.offlineAfterS) return "stale";
  return "normal";
}

/** The worst status among several (a cluster shows its worst member's). */
export function worst(statuses) {
  let found = "nodata";
  for (const s of statuses) if (STATUSES[s].rank > STATUSES[found].rank) found = s;
  return found;
}
