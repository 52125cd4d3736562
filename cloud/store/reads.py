"""Queries of the twin, run on pooled read-only connections in worker threads."""

from __future__ import annotations

import json
import sqlite3
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from cloud import twin
from cloud.fleet import Gateway
from cloud.store.base import EntityQuery, Page
from shared.wire.uplink import DesiredState, Heartbeat

_ENTITY_COLUMNS = (
    "id, sensor, kind, type, category, gateway, location, attributes, first_seen, updated_at"
)
_GATEWAY_COLUMNS = (
    "id, first_seen, last_seen, heartbeat, heartbeat_at, desired_config_version, "
    "desired_model_version"
)
_STATUS = """SELECT entity, metric, value, observed_at FROM latest
    WHERE entity IN (SELECT value FROM json_each(?)) ORDER BY entity, metric"""


def entities(conn: sqlite3.Connection, query: EntityQuery) -> Page[twin.Entity]:
    """One page of entities matching ``query``, ordered by id."""
    where, params = _where(query)
    # Only fixed column names from _where reach the SQL text; values are bound.
    (total,) = conn.execute(f"SELECT count(*) FROM entities {where}", params).fetchone()  # noqa: S608
    found = conn.execute(
        f"SELECT {_ENTITY_COLUMNS} FROM entities {where} ORDER BY id LIMIT ? OFFSET ?",  # noqa: S608
        (*params, query.limit, query.offset),
    ).fetchall()
    return Page(_with_status(conn, found), total)


def entity(conn: sqlite3.Connection, entity_id: str) -> twin.Entity | None:
    """The entity called ``entity_id``, or None."""
    found = conn.execute(
        f"SELECT {_ENTITY_COLUMNS} FROM entities WHERE id = ?",  # noqa: S608
        (entity_id,),
    ).fetchall()
    items = _with_status(conn, found)
    return items[0] if items else None


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


def _where(query: EntityQuery) -> tuple[str, tuple[str, ...]]:
    wanted = {"kind": query.kind, "type": query.type, "gateway": query.gateway}
    given = [(column, value) for column, value in wanted.items() if value is not None]
    if not given:
        return "", ()
    clause = " AND ".join(f"{column} = ?" for column, _ in given)
    return f"WHERE {clause}", tuple(value for _, value in given)


def _with_status(conn: sqlite3.Connection, found: Sequence[Any]) -> tuple[twin.Entity, ...]:
    if not found:
        return ()
    kinds = {row[0]: row[2] for row in found}
    status: dict[str, dict[str, twin.MetricState]] = defaultdict(dict)
    for entity_id, metric, value, observed_at in conn.execute(_STATUS, (json.dumps(list(kinds)),)):
        unit = twin.unit(kinds[entity_id], metric)
        status[entity_id][metric] = twin.MetricState(value, observed_at, unit)
    return tuple(_entity(row, status[row[0]]) for row in found)


def _entity(row: Any, status: dict[str, twin.MetricState]) -> twin.Entity:
    id_, sensor, kind, type_, category, gateway, location, attributes, first, updated = row
    return twin.Entity(
        id=id_,
        sensor=sensor,
        kind=kind,
        type=type_,
        category=category,
        gateway=gateway,
        location=json.loads(location) if location is not None else None,
        attributes=json.loads(attributes),
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
