"""The seeding transaction on PostgreSQL: a city file's entities upserted with their relationships.

As in cloud/store/seeding.py, live data wins where both know something: a sensor already in
the twin keeps its live status, first_seen and reporting gateway; the file brings the rest.
Each geometry's bounding box is stored beside it, in the ``bounds`` column.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from cloud.city import SeedEntity, dumps_location
from cloud.store.postgres.bulk import Insert
from cloud.store.postgres.db import Conn

_COLUMNS = (
    ("id", "text"), ("type", "text"), ("category", "text"), ("name", "text"),
    ("sensor", "text"), ("kind", "text"), ("gateway", "text"), ("district", "text"),
    ("location", "text"), ("attributes", "text"), ("first_seen", "float8"),
    ("updated_at", "float8"),
    ("min_lon", "float8"), ("min_lat", "float8"), ("max_lon", "float8"), ("max_lat", "float8"),
)  # fmt: skip
_ROWS = Insert("entities", _COLUMNS)  # its arrays(): one coerced list per column
_NAMES = ", ".join(name for name, _ in _COLUMNS)
_ARRAYS = ", ".join(f"%b::{kind}[]" for _, kind in _COLUMNS)
_ENTITIES = f"""INSERT INTO entities AS e (id, type, category, name, sensor, kind, gateway,
    district, location, attributes, first_seen, updated_at, bounds)
    SELECT id, type, category, name, sensor, kind, gateway, district, location,
        attributes::json, first_seen, updated_at,
        CASE WHEN min_lon IS NULL THEN NULL
            ELSE box(point(min_lon, min_lat), point(max_lon, max_lat)) END
    FROM unnest({_ARRAYS}) AS s ({_NAMES})
    ON CONFLICT (id) DO UPDATE SET type = excluded.type, category = excluded.category,
    name = excluded.name, sensor = coalesce(e.sensor, excluded.sensor),
    kind = coalesce(e.kind, excluded.kind), gateway = coalesce(e.gateway, excluded.gateway),
    district = excluded.district, location = excluded.location,
    attributes = excluded.attributes, bounds = excluded.bounds,
    updated_at = excluded.updated_at"""  # noqa: S608
_RELATIONSHIPS = Insert(
    "relationships",
    (("subject", "text"), ("name", "text"), ("object", "text")),
    "ON CONFLICT DO NOTHING",
)


async def seed(conn: Conn, entities: Sequence[SeedEntity], at: float) -> int:
    """Upsert ``entities``; returns how many there were."""
    # One upsert may not touch a row twice: the last of an id wins, as applied in turn would.
    unique = sorted({e.id: e for e in entities}.values(), key=lambda e: e.id)
    if unique:
        rows = [_row(e, at) for e in unique]
        await conn.execute(_ENTITIES, _ROWS.arrays(rows))
    # The file is the truth about relationships of the entities it names.
    await conn.execute(
        "DELETE FROM relationships WHERE subject = ANY(%s)", ([e.id for e in unique],)
    )
    await _RELATIONSHIPS.run(
        conn,
        [
            (e.id, name, obj)
            for e in unique
            for name, objs in e.relationships.items()
            for obj in objs
        ],
    )
    return len(entities)


def _row(e: SeedEntity, at: float) -> tuple[object, ...]:
    box = e.bounds
    corners = (None,) * 4 if box is None else (box.min_lon, box.min_lat, box.max_lon, box.max_lat)
    return (
        e.id, e.type, e.category, e.name, e.sensor, e.kind, e.gateway, e.district,
        dumps_location(e.location), json.dumps(e.attributes, separators=(",", ":")), at, at,
        *corners,
    )  # fmt: skip
