"""The seeding transaction: a city file's entities upserted with their bounds and relationships.

Runs on the writer thread. Live data wins where both know something: a sensor already in
the twin keeps its live status, first_seen and reporting gateway; the file brings the rest.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence

from cloud.city import SeedEntity, dumps_location
from cloud.store.writes import Insert

_ENTITIES = Insert(
    "entities",
    (
        "id", "type", "category", "name", "sensor", "kind", "gateway", "district", "location",
        "attributes", "first_seen", "updated_at",
    ),
    """ON CONFLICT (id) DO UPDATE SET type = excluded.type, category = excluded.category,
    name = excluded.name, sensor = coalesce(entities.sensor, excluded.sensor),
    kind = coalesce(entities.kind, excluded.kind),
    gateway = coalesce(entities.gateway, excluded.gateway), district = excluded.district,
    location = excluded.location, attributes = excluded.attributes,
    updated_at = excluded.updated_at""",
)  # fmt: skip
_BOUNDS = Insert("entity_bounds", ("rid", "min_lon", "max_lon", "min_lat", "max_lat"))
_RELATIONSHIPS = Insert("relationships", ("subject", "name", "object"), "ON CONFLICT DO NOTHING")
_IDS = "SELECT value FROM json_each(?)"
_RIDS = f"SELECT id, rid FROM entities WHERE id IN ({_IDS})"  # noqa: S608
_DROP_BOUNDS = f"""DELETE FROM entity_bounds
    WHERE rid IN (SELECT rid FROM entities WHERE id IN ({_IDS}))"""  # noqa: S608
_DROP_RELATIONSHIPS = f"DELETE FROM relationships WHERE subject IN ({_IDS})"  # noqa: S608


def seed(conn: sqlite3.Connection, entities: Sequence[SeedEntity], at: float) -> int:
    """Upsert ``entities``; returns how many there were."""
    _ENTITIES.run(conn, [_row(e, at) for e in entities])
    ids = json.dumps([e.id for e in entities])
    rids = dict(conn.execute(_RIDS, (ids,)))
    conn.execute(_DROP_BOUNDS, (ids,))
    _BOUNDS.run(
        conn,
        [
            (rids[e.id], e.bounds.min_lon, e.bounds.max_lon, e.bounds.min_lat, e.bounds.max_lat)
            for e in entities
            if e.bounds is not None
        ],
    )
    # The file is the truth about relationships of the entities it names.
    conn.execute(_DROP_RELATIONSHIPS, (ids,))
    _RELATIONSHIPS.run(
        conn,
        [
            (e.id, name, obj)
            for e in entities
            for name, objs in e.relationships.items()
            for obj in objs
        ],
    )
    return len(entities)


def _row(e: SeedEntity, at: float) -> tuple[object, ...]:
    return (
        e.id, e.type, e.category, e.name, e.sensor, e.kind, e.gateway, e.district,
        dumps_location(e.location), json.dumps(e.attributes, separators=(",", ":")), at, at,
    )  # fmt: skip
