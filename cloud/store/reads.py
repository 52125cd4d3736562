"""Queries of the twin, run on pooled read-only connections in worker threads."""

from __future__ import annotations

import json
import sqlite3
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from cloud import geo, twin
from cloud.fleet import Gateway
from cloud.store.base import EntityQuery, Page
from shared.wire.uplink import DesiredState, Heartbeat

_ENTITY_COLUMNS = (
    "id, type, category, name, sensor, kind, gateway, district, location, attributes, "
    "first_seen, updated_at"
)
_GATEWAY_COLUMNS = (
    "id, first_seen, last_seen, heartbeat, heartbeat_at, desired_config_version, "
    "desired_model_version"
)
_STATUS = """SELECT entity, metric, value, observed_at FROM latest
    WHERE entity IN (SELECT value FROM json_each(?)) ORDER BY entity, metric"""
_RELATIONSHIPS = """SELECT subject, name, object FROM relationships
    WHERE subject IN (SELECT value FROM json_each(?)) ORDER BY subject, name, object"""
_IN_BOX = """rid IN (SELECT rid FROM entity_bounds
    WHERE max_lon >= ? AND min_lon <= ? AND max_lat >= ? AND min_lat <= ?)"""
_DISTRICT = "urn:ngsi-ld:District:"


def entities(conn: sqlite3.Connection, query: EntityQuery) -> Page[twin.Entity]:
    """One page of entities matching ``query``, ordered by id (by distance with ``near``)."""
    where, params = _where(query)
    if query.near is not None:
        return _nearest(conn, query, where, params)
    # Only fixed column names from _where reach the SQL text; values are bound.
    (total,) = conn.execute(f"SELECT count(*) FROM entities {where}", params).fetchone()  # noqa: S608
    found = conn.execute(
        f"SELECT {_ENTITY_COLUMNS} FROM entities {where} ORDER BY id LIMIT ? OFFSET ?",  # noqa: S608
        (*params, query.limit, query.offset),
    ).fetchall()
    return Page(_complete(conn, found), total)


def entity(conn: sqlite3.Connection, entity_id: str) -> twin.Entity | None:
    """The entity called ``entity_id``, or None."""
    found = conn.execute(
        f"SELECT {_ENTITY_COLUMNS} FROM entities WHERE id = ?",  # noqa: S608
        (entity_id,),
    ).fetchall()
    items = _complete(conn, found)
    return items[0] if items else None


def incoming(conn: sqlite3.Connection, entity_id: str, limit: int) -> Page[twin.Incoming]:
    """Relationships pointing at ``entity_id``, by name then subject."""
    (total,) = conn.execute(
        "SELECT count(*) FROM relationships WHERE object = ?", (entity_id,)
    ).fetchone()
    found = conn.execute(
        "SELECT subject, name FROM relationships WHERE object = ? ORDER BY name, subject LIMIT ?",
        (entity_id, limit),
    )
    return Page(tuple(twin.Incoming(subject, name) for subject, name in found), total)


def gateways(conn: sqlite3.Connection, limit: int, offset: int) -> Page[Gateway]:
    """One page of gateways, ordered by id."""
    (total,) = conn.execute("SELECT count(*) FROM gateways").fetchone()
    found = conn.execute(
        f"SELECT {_GATEWAY_COLUMNS} FROM gateways ORDER BY id LIMIT ? OFFSET ?",  # noqa: S608
        (limit, offset),
    )
    return Page(tuple(_gateway(row) for row in found), total)


def check(conn: sqlite3.Connection) -> None:
    """Fail unless the schema is readable."""
    conn.execute("SELECT 1 FROM entities LIMIT 1").fetchall()


def _where(query: EntityQuery) -> tuple[str, tuple[object, ...]]:
    district = query.district
    if district is not None and not district.startswith("urn:"):
        district = _DISTRICT + district  # "district-03" is short for its URN
    wanted = {
        "kind": query.kind,
        "type": query.type,
        "category": query.category,
        "gateway": query.gateway,
        "district": district,
    }
    clauses = [f"{column} = ?" for column, value in wanted.items() if value is not None]
    params: list[object] = [value for value in wanted.values() if value is not None]
    box = query.bbox
    if query.near is not None:
        box = geo.around(query.near.lon, query.near.lat, query.near.max_distance_m)
    if box is not None:
        clauses.append(_IN_BOX)
        params += [box.min_lon, box.max_lon, box.min_lat, box.max_lat]
    return (f"WHERE {' AND '.join(clauses)}" if clauses else ""), tuple(params)


def _nearest(
    conn: sqlite3.Connection, query: EntityQuery, where: str, params: tuple[object, ...]
) -> Page[twin.Entity]:
    near = query.near
    assert near is not None
    # The R*Tree narrows to the box around the circle; exact distances decide the rest.
    candidates = conn.execute(f"SELECT id, location FROM entities {where}", params)  # noqa: S608
    hits = sorted(
        (distance, entity_id)
        for entity_id, location in candidates
        if location is not None
        and (distance := geo.distance_m(near.lon, near.lat, json.loads(location)))
        <= near.max_distance_m
    )
    page = hits[query.offset : query.offset + query.limit]
    ids = json.dumps([entity_id for _, entity_id in page])
    found = conn.execute(
        f"SELECT {_ENTITY_COLUMNS} FROM entities WHERE id IN (SELECT value FROM json_each(?))",  # noqa: S608
        (ids,),
    ).fetchall()
    by_id = {e.id: e for e in _complete(conn, found)}
    items = tuple(replace(by_id[entity_id], distance_m=d) for d, entity_id in page)
    return Page(items, len(hits))


def _complete(conn: sqlite3.Connection, found: Sequence[Any]) -> tuple[twin.Entity, ...]:
    """Entities of ``found`` rows, with their live status and outgoing relationships."""
    if not found:
        return ()
    kinds = {row[0]: row[5] for row in found}
    ids = json.dumps(list(kinds))
    status: dict[str, dict[str, twin.MetricState]] = defaultdict(dict)
    for entity_id, metric, value, observed_at in conn.execute(_STATUS, (ids,)):
        unit = twin.unit(kinds[entity_id], metric)
        status[entity_id][metric] = twin.MetricState(value, observed_at, unit)
    links: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    for subject, name, obj in conn.execute(_RELATIONSHIPS, (ids,)):
        links[subject][name].append(obj)
    return tuple(
        _entity(row, status[row[0]], {k: tuple(v) for k, v in links[row[0]].items()})
        for row in found
    )


def _entity(
    row: Any, status: dict[str, twin.MetricState], relationships: dict[str, tuple[str, ...]]
) -> twin.Entity:
    id_, type_, category, name, sensor, kind, gateway, district, location, attributes, first, updated = row  # fmt: skip  # noqa: E501
    return twin.Entity(
        id=id_,
        type=type_,
        category=category,
        name=name,
        sensor=sensor,
        kind=kind,
        gateway=gateway,
        district=district,
        location=json.loads(location) if location is not None else None,
        attributes=json.loads(attributes),
        relationships=relationships,
        first_seen=first,
        updated_at=updated,
        status=status,
    )


def _gateway(row: Any) -> Gateway:
    id_, first_seen, last_seen, heartbeat, heartbeat_at, config_version, model_version = row
    return Gateway(
        id=id_,
        first_seen=first_seen,
        last_seen=last_seen,
        heartbeat_at=heartbeat_at,
        heartbeat=Heartbeat.model_validate_json(heartbeat) if heartbeat is not None else None,
        desired=DesiredState(config_version=config_version, model_version=model_version),
    )
