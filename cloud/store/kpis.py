"""The inputs of district KPIs in SQLite: sensors' live values, their context, an hour before.

Runs on a reader. Four short queries, whatever the number of districts: the sensors of the
KPI kinds with their latest values, what each observes (a road's speed limit, a beach), the
newest window of each metric an hour before, and the districts' names.
"""

from __future__ import annotations

import json
import sqlite3
from collections import defaultdict
from dataclasses import dataclass
from typing import Final

from cloud import kpis
from cloud.city import DISTRICT_PREFIX
from cloud.store.history import BUCKET_S

# How far before ``at - 1 h`` the trend looks for a window: a quarter hour of buckets.
EARLIER_S: Final = 3600.0
LOOKBACK_S: Final = 900.0
_KINDS = json.dumps(list(kpis.METRICS))
_METRICS = json.dumps(sorted({m for ms in kpis.METRICS.values() for m in ms}))
_INLAND = frozenset({"River", "Lake", "Canal"})

_SENSORS = """SELECT e.rid, e.id, e.kind, e.district, l.metric, l.value, l.observed_at
    FROM entities AS e
    LEFT JOIN latest AS l ON l.entity = e.id AND l.metric IN (SELECT value FROM json_each(?))
    WHERE e.kind IN (SELECT value FROM json_each(?)) {}
    ORDER BY e.id"""
# A road segment's speed limit is its free-flow speed (SDM RoadSegment: maximumAllowedSpeed).
_OBSERVED = """SELECT r.subject, o.id, o.type,
    coalesce(json_extract(o.attributes, '$.speedLimit'),
             json_extract(o.attributes, '$.maximumAllowedSpeed')),
    json_extract(o.attributes, '$.bathing')
    FROM relationships AS r JOIN entities AS o ON o.id = r.object
    WHERE r.name = 'observes' AND r.subject IN (SELECT value FROM json_each(?))"""
_EARLIER = """SELECT w.entity, w.metric, w.last_value, w.last_ts
    FROM json_each(?) AS b JOIN windows AS w ON w.bucket = b.value
    WHERE w.entity IN (SELECT value FROM json_each(?))
    AND w.metric IN (SELECT value FROM json_each(?)) AND w.last_ts <= ?"""
_DISTRICTS = "SELECT id, name FROM entities WHERE type = 'District' {} ORDER BY id"

Values = dict[str, kpis.Observation]


def district_id(district: str) -> str:
    """The district's URN, from the URN or its local id (``district-03``)."""
    return district if district.startswith("urn:") else DISTRICT_PREFIX + district


def inputs(conn: sqlite3.Connection, district: str | None, at: float) -> kpis.KpiInputs:
    """The districts (one, or all) and the KPI sensors in them, with values now and before."""
    where, params = ("AND e.district = ?", (district,)) if district is not None else ("", ())
    rows = conn.execute(_SENSORS.format(where), (_METRICS, _KINDS, *params)).fetchall()
    sensors: dict[str, tuple[int, str, str | None]] = {}
    now: dict[str, Values] = defaultdict(dict)
    for rid, entity, kind, in_district, metric, value, observed_at in rows:
        sensors[entity] = (rid, kind, in_district)
        if metric is not None:
            now[entity][metric] = kpis.Observation(value, observed_at)
    observed = _observed(conn, list(sensors))
    earlier = _earlier(conn, [rid for rid, _, _ in sensors.values()], at - EARLIER_S)
    found = tuple(
        _sensor(entity, kind, in_district, now[entity], earlier.get(rid, {}), observed.get(entity))
        for entity, (rid, kind, in_district) in sensors.items()
    )
    d_where, d_params = ("AND id = ?", (district,)) if district is not None else ("", ())
    districts = tuple(
        kpis.District(d, name) for d, name in conn.execute(_DISTRICTS.format(d_where), d_params)
    )
    return kpis.KpiInputs(districts, found)


@dataclass(frozen=True, slots=True)
class _Observed:
    """The entity a sensor observes, as far as the KPIs care."""

    id: str
    type: str
    speed_limit: float | None
    bathing: bool


def _observed(conn: sqlite3.Connection, entities: list[str]) -> dict[str, _Observed]:
    found = conn.execute(_OBSERVED, (json.dumps(entities),))
    return {
        subject: _Observed(
            obj, type_, float(limit) if isinstance(limit, int | float) else None, bool(bathing)
        )
        for subject, obj, type_, limit, bathing in found
    }


def _earlier(conn: sqlite3.Connection, rids: list[int], until: float) -> dict[int, Values]:
    """Per entity rid and metric: the newest window's last value in the 15 min to ``until``."""
    first, last = int((until - LOOKBACK_S) // BUCKET_S), int(until // BUCKET_S)
    buckets = json.dumps(list(range(first, last + 1)))
    out: dict[int, Values] = defaultdict(dict)
    params = (buckets, json.dumps(rids), _METRICS, until)
    for rid, metric, value, last_ts in conn.execute(_EARLIER, params):
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
    observed: _Observed | None,
) -> kpis.SensorInput:
    if observed is None:
        # Not in the city file: a site of its own. Better a false amber than a missed red.
        return kpis.SensorInput(entity, kind, district, now, earlier)
    return kpis.SensorInput(
        entity=entity,
        kind=kind,
        district=district,
        now=now,
        earlier=earlier,
        free_flow_kmh=observed.speed_limit,
        site=observed.id,
        inland=observed.type in _INLAND,
        bathing=observed.type == "Beach" or observed.bathing,
    )
