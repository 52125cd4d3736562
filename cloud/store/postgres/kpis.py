"""The inputs of district KPIs on PostgreSQL: the same four queries as cloud/store/kpis.py."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from cloud import kpis
from cloud.store.history import BUCKET_S
from cloud.store.kpis import EARLIER_S, LOOKBACK_S
from cloud.store.postgres.db import Conn, fetch_all

_KINDS = list(kpis.METRICS)
_METRICS = sorted({m for ms in kpis.METRICS.values() for m in ms})
_INLAND = frozenset({"River", "Lake", "Canal"})

_SENSORS = """SELECT e.rid, e.id, e.kind, e.district, l.metric, l.value, l.observed_at
    FROM entities AS e
    LEFT JOIN latest AS l ON l.entity = e.id AND l.metric = ANY(%s)
    WHERE e.kind = ANY(%s) {}
    ORDER BY e.id"""
# A road segment's speed limit is its free-flow speed (SDM RoadSegment: maximumAllowedSpeed).
_OBSERVED = """SELECT r.subject, o.id, o.type, o.attributes -> 'speedLimit',
    o.attributes -> 'maximumAllowedSpeed', o.attributes -> 'bathing'
    FROM relationships AS r JOIN entities AS o ON o.id = r.object
    WHERE r.name = 'observes' AND r.subject = ANY(%s)"""
_EARLIER = """SELECT entity, metric, last_value, last_ts FROM windows
    WHERE bucket BETWEEN %s AND %s AND entity = ANY(%s) AND metric = ANY(%s)
    AND last_ts <= %s"""
_DISTRICTS = "SELECT id, name FROM entities WHERE type = 'District' {} ORDER BY id"

Values = dict[str, kpis.Observation]


async def inputs(conn: Conn, district: str | None, at: float) -> kpis.KpiInputs:
    """The districts (one, or all) and the KPI sensors in them, with values now and before."""
    where, params = ("AND e.district = %s", (district,)) if district is not None else ("", ())
    rows = await fetch_all(conn, _SENSORS.format(where), (_METRICS, _KINDS, *params))
    sensors: dict[str, tuple[int, str, str | None]] = {}
    now: dict[str, Values] = defaultdict(dict)
    for rid, entity, kind, in_district, metric, value, observed_at in rows:
        sensors[entity] = (rid, kind, in_district)
        if metric is not None:
            now[entity][metric] = kpis.Observation(value, observed_at)
    observed = await _observed(conn, list(sensors))
    earlier = await _earlier(conn, [rid for rid, _, _ in sensors.values()], at - EARLIER_S)
    found = tuple(
        _sensor(entity, kind, in_district, now[entity], earlier.get(rid, {}), observed.get(entity))
        for entity, (rid, kind, in_district) in sensors.items()
    )
    d_where, d_params = ("AND id = %s", (district,)) if district is not None else ("", ())
    districts = tuple(
        kpis.District(d, name)
        for d, name in await fetch_all(conn, _DISTRICTS.format(d_where), d_params)
    )
    return kpis.KpiInputs(districts, found)


async def _observed(conn: Conn, entities: list[str]) -> dict[str, tuple[str, str, Any, Any]]:
    """Per sensor: what it observes (id, type), its speed limit and bathing flag as stored."""
    out: dict[str, tuple[str, str, Any, Any]] = {}
    for subject, obj, type_, limit, allowed, bathing in await fetch_all(
        conn, _OBSERVED, (entities,)
    ):
        # coalesce() as SQLite's json_extract gives it: a JSON null is no value.
        out[subject] = (obj, type_, limit if limit is not None else allowed, bathing)
    return out


async def _earlier(conn: Conn, rids: list[int], until: float) -> dict[int, Values]:
    """Per entity rid and metric: the newest window's last value in the 15 min to ``until``."""
    first, last = int((until - LOOKBACK_S) // BUCKET_S), int(until // BUCKET_S)
    out: dict[int, Values] = defaultdict(dict)
    params = (first, last, rids, _METRICS, until)
    for rid, metric, value, last_ts in await fetch_all(conn, _EARLIER, params):
        known = out[rid].get(metric)
        if known is None or last_ts > known.observed_at:
            out[rid][metric] = kpis.Observation(value, last_ts)
    return out


def _sensor(
    entity: str,
    kind: str,
    district: str | None,
    now: Values,
    earlier: Values,
    observed: tuple[str, str, Any, Any] | None,
) -> kpis.SensorInput:
    if observed is None:
        # Not in the city file: a site of its own. Better a false amber than a missed red.
        return kpis.SensorInput(entity, kind, district, now, earlier)
    site, type_, limit, bathing = observed
    return kpis.SensorInput(
        entity=entity,
        kind=kind,
        district=district,
        now=now,
        earlier=earlier,
        free_flow_kmh=float(limit) if isinstance(limit, int | float) else None,
        site=site,
        inland=type_ in _INLAND,
        bathing=type_ == "Beach" or bool(bathing),
    )
