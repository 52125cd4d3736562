"""Queries of the twin on PostgreSQL: the same answers as cloud/store/reads.py gives.

Boxes are the built-in ``box`` type under a GiST index (``&&``: overlap, edges included, like
the SQLite R*Tree); a ``near`` query narrows to the box around the circle there, and exact
distances to each geometry decide the rest, in Python, with the same code as on SQLite.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from cloud import geo, twin
from cloud.fleet import Gateway
from cloud.store.base import EntityQuery, Page
from cloud.store.postgres.db import Conn, fetch_all, fetch_one
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
    WHERE entity = ANY(%s) ORDER BY entity, metric"""
_RELATIONSHIPS = """SELECT subject, name, object FROM relationships
    WHERE subject = ANY(%s) ORDER BY subject, name, object"""
_IN_BOX = "bounds && box(point(%s, %s), point(%s, %s))"
_DISTRICT = "urn:ngsi-ld:District:"


async def entities(conn: Conn, query: EntityQuery) -> Page[twin.Entity]:
    """One page of entities matching ``query``, ordered by id (by distance with ``near``)."""
    where, params = _where(query)
    if query.near is not None:
        return await _nearest(conn, query, where, params)
    # Only fixed column names from _where reach the SQL text; values are bound.
    total = await _scalar(conn, f"SELECT count(*) FROM entities {where}", params)  # noqa: S608
    found = await fetch_all(
        conn,
        f"SELECT {_ENTITY_COLUMNS} FROM entities {where} ORDER BY id LIMIT %s OFFSET %s",  # noqa: S608
        (*params, query.limit, query.offset),
    )
    return Page(await _complete(conn, found), total)


async def entity(conn: Conn, entity_id: str) -> twin.Entity | None:
    """The entity called ``entity_id``, or None."""
    found = await fetch_all(
        conn,
        f"SELECT {_ENTITY_COLUMNS} FROM entities WHERE id = %s",  # noqa: S608
        (entity_id,),
    )
    items = await _complete(conn, found)
    return items[0] if items else None


async def incoming(conn: Conn, entity_id: str, limit: int) -> Page[twin.Incoming]:
    """Relationships pointing at ``entity_id``, by name then subject."""
    total = await _scalar(
        conn, "SELECT count(*) FROM relationships WHERE object = %s", (entity_id,)
    )
    found = await fetch_all(
        conn,
        "SELECT subject, name FROM relationships WHERE object = %s ORDER BY name, subject LIMIT %s",
        (entity_id, limit),
    )
    return Page(tuple(twin.Incoming(subject, name) for subject, name in found), total)


async def gateways(conn: Conn, limit: int, offset: int) -> Page[Gateway]:
    """One page of gateways, ordered by id."""
    total = await _scalar(conn, "SELECT count(*) FROM gateways", ())
    found = await fetch_all(
        conn,
        f"SELECT {_GATEWAY_COLUMNS} FROM gateways ORDER BY id LIMIT %s OFFSET %s",  # noqa: S608
        (limit, offset),
    )
    return Page(tuple(_gateway(row) for row in found), total)


async def check(conn: Conn) -> None:
    """Fail unless the schema is readable."""
    await fetch_all(conn, "SELECT 1 FROM entities LIMIT 1", ())


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
    clauses = [f"{column} = %s" for column, value in wanted.items() if value is not None]
    params: list[object] = [value for value in wanted.values() if value is not None]
    box = query.bbox
    if query.near is not None:
        box = geo.around(query.near.lon, query.near.lat, query.near.max_distance_m)
    if box is not None:
        clauses.append(_IN_BOX)
        params += [box.min_lon, box.min_lat, box.max_lon, box.max_lat]
    return (f"WHERE {' AND '.join(clauses)}" if clauses else ""), tuple(params)


async def _nearest(
    conn: Conn, query: EntityQuery, where: str, params: tuple[object, ...]
) -> Page[twin.Entity]:
    near = query.near
    assert near is not None
    candidates = await fetch_all(conn, f"SELECT id, location FROM entities {where}", params)  # noqa: S608
    hits = sorted(
        (distance, entity_id)
        for entity_id, location in candidates
        if location is not None
        and (distance := geo.distance_m(near.lon, near.lat, json.loads(location)))
        <= near.max_distance_m
    )
    page = hits[query.offset : query.offset + query.limit]
    found = await fetch_all(
        conn,
        f"SELECT {_ENTITY_COLUMNS} FROM entities WHERE id = ANY(%s)",  # noqa: S608
        ([entity_id for _, entity_id in page],),
    )
    by_id = {e.id: e for e in await _complete(conn, found)}
    items = tuple(replace(by_id[entity_id], distance_m=d) for d, entity_id in page)
    return Page(items, len(hits))


async def _complete(conn: Conn, found: Sequence[Any]) -> tuple[twin.Entity, ...]:
    """Entities of ``found`` rows, with their live status and outgoing relationships."""
    if not found:
        return ()
    kinds = {row[0]: row[5] for row in found}
    ids = list(kinds)
    status: dict[str, dict[str, twin.MetricState]] = defaultdict(dict)
    for entity_id, metric, value, observed_at in await fetch_all(conn, _STATUS, (ids,)):
        unit = twin.unit(kinds[entity_id], metric)
        status[entity_id][metric] = twin.MetricState(value, observed_at, unit)
    links: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    for subject, name, obj in await fetch_all(conn, _RELATIONSHIPS, (ids,)):
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
        attributes=attributes,  # a json column: psycopg has parsed it already
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


async def _scalar(conn: Conn, sql: str, params: Sequence[object]) -> Any:
    row = await fetch_one(conn, sql, params)
    assert row is not None  # an aggregate always returns a row
    return row[0]
