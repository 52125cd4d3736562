"""The PostgreSQL schema as numbered migrations: append new steps, never edit applied ones.

``schema_version`` records the steps applied. ``migrate`` runs in one transaction holding a
transaction-level advisory lock, so two processes starting at once take turns: the second
finds the schema current and does nothing. Text that pages are ordered by is COLLATE "C",
byte order, as in SQLite, so both backends list entities in the same order.
"""

from __future__ import annotations

import time
from typing import Final

from cloud.errors import StoreError
from cloud.store.postgres.db import Conn

# Any fixed 64-bit number, the same in every process of the deployment.
LOCK_KEY: Final = 0x6369747974776E  # "citytwn"

_RECORDS = (
    # Every record ever accepted, by its wire key: this table is what makes re-sends harmless.
    """CREATE TABLE records (
        gateway text COLLATE "C" NOT NULL, seq bigint NOT NULL, type text NOT NULL,
        received_at float8 NOT NULL, PRIMARY KEY (gateway, seq))""",
    """CREATE TABLE alerts (
        id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, gateway text NOT NULL,
        seq bigint NOT NULL, entity text NOT NULL, sensor text NOT NULL, kind text NOT NULL,
        metric text NOT NULL, ts float8 NOT NULL, value float8 NOT NULL, low float8,
        high float8, score float8 NOT NULL, severity text NOT NULL, reason text NOT NULL,
        received_at float8 NOT NULL)""",
    "CREATE INDEX alerts_entity ON alerts (entity, ts)",
    """CREATE TABLE gaps (
        id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, gateway text NOT NULL,
        seq bigint NOT NULL, sensor text, metric text, gap_start float8 NOT NULL,
        gap_end float8 NOT NULL, count bigint NOT NULL, reason text NOT NULL,
        received_at float8 NOT NULL)""",
    "CREATE INDEX gaps_sensor ON gaps (sensor, gap_start)",
    "CREATE INDEX gaps_gateway ON gaps (gateway, gap_start)",
    """CREATE TABLE gateways (
        id text COLLATE "C" PRIMARY KEY, first_seen float8 NOT NULL, last_seen float8 NOT NULL,
        heartbeat text, heartbeat_seq bigint, heartbeat_at float8,
        desired_config_version bigint NOT NULL DEFAULT 0, desired_model_version text)""",
)

# Every ingest rewrites the row of each sensor it names in ``entities`` (updated_at) and
# ``latest``: free space in each page lets PostgreSQL update in place (HOT, no index writes),
# since no indexed column changes.
_TWIN = (
    # bounds: the geometry's box, GiST-indexed (a built-in type: no extension needed).
    """CREATE TABLE entities (
        rid bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, id text COLLATE "C" NOT NULL UNIQUE,
        type text NOT NULL, category text NOT NULL, name text, sensor text, kind text,
        gateway text, district text, location text, bounds box,
        attributes json NOT NULL DEFAULT '{}', first_seen float8 NOT NULL,
        updated_at float8 NOT NULL) WITH (fillfactor = 70)""",
    # (filter, id): a filtered page comes out of the index in order, without a sort.
    "CREATE INDEX entities_type ON entities (type, id)",
    "CREATE INDEX entities_category ON entities (category, id)",
    "CREATE INDEX entities_kind ON entities (kind, id)",
    "CREATE INDEX entities_gateway ON entities (gateway, id)",
    "CREATE INDEX entities_district ON entities (district, id)",
    "CREATE INDEX entities_district_type ON entities (district, type, id)",
    "CREATE INDEX entities_sensor ON entities (sensor)",
    "CREATE INDEX entities_bounds ON entities USING gist (bounds)",
    """CREATE TABLE relationships (
        subject text COLLATE "C" NOT NULL, name text COLLATE "C" NOT NULL,
        object text COLLATE "C" NOT NULL, PRIMARY KEY (subject, name, object))""",
    "CREATE INDEX relationships_object ON relationships (object, name)",
    # The live status: one row per (entity, metric), replaced only by a newer observation.
    """CREATE TABLE latest (
        entity text COLLATE "C" NOT NULL, metric text COLLATE "C" NOT NULL,
        value float8 NOT NULL, observed_at float8 NOT NULL, PRIMARY KEY (entity, metric))
        WITH (fillfactor = 50)""",
    # Window rows merged at ingest, keyed as in SQLite (cloud/store/schema.py says why).
    """CREATE TABLE windows (
        bucket bigint NOT NULL, entity bigint NOT NULL, metric text COLLATE "C" NOT NULL,
        window_start float8 NOT NULL, window_end float8 NOT NULL, count bigint NOT NULL,
        total float8 NOT NULL, low float8 NOT NULL, high float8 NOT NULL, m2 float8 NOT NULL,
        first_ts float8 NOT NULL, last_ts float8 NOT NULL, last_value float8 NOT NULL,
        anomalies bigint NOT NULL, max_score float8, expected bigint, parts bigint NOT NULL,
        PRIMARY KEY (bucket, entity, metric, window_start, window_end))""",
)

_INCIDENTS = (
    """CREATE TABLE incidents (
        id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, entity text NOT NULL,
        cause text NOT NULL, department text,
        state text NOT NULL CHECK (state IN ('open', 'acknowledged', 'resolved')),
        severity text NOT NULL, assignee text, alerts bigint NOT NULL,
        first_alert_at float8 NOT NULL, last_alert_at float8 NOT NULL,
        last_value float8 NOT NULL, opened_at float8 NOT NULL, updated_at float8 NOT NULL)""",
    # At most one active incident per entity and cause: new alerts join it.
    """CREATE UNIQUE INDEX incidents_active ON incidents (entity, cause)
        WHERE state <> 'resolved'""",
    "CREATE INDEX incidents_updated ON incidents (updated_at)",
    "CREATE INDEX incidents_department ON incidents (department, updated_at)",
    """CREATE TABLE incident_events (
        id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        incident bigint NOT NULL REFERENCES incidents (id), at float8 NOT NULL,
        actor text NOT NULL, action text NOT NULL, detail text NOT NULL)""",
    "CREATE INDEX incident_events_incident ON incident_events (incident, id)",
)

_CREDENTIALS = (
    # Only digests of secrets are stored (cloud/credentials.py); revoked rows are kept for audit.
    """CREATE TABLE api_keys (
        id text COLLATE "C" PRIMARY KEY, name text NOT NULL,
        role text NOT NULL CHECK (role IN ('viewer', 'operator', 'admin')),
        departments text NOT NULL DEFAULT '[]', digest text NOT NULL,
        created_at float8 NOT NULL, revoked_at float8)""",
    """CREATE TABLE enrollments (
        gateway text PRIMARY KEY, digest text NOT NULL, created_at float8 NOT NULL,
        expires_at float8 NOT NULL, used_at float8)""",
    """CREATE TABLE gateway_tokens (
        id text PRIMARY KEY, gateway text NOT NULL, digest text NOT NULL,
        created_at float8 NOT NULL, revoked_at float8)""",
    "CREATE INDEX gateway_tokens_gateway ON gateway_tokens (gateway)",
)

# (name, statements) in order; the version of a step is its position, from 1.
MIGRATIONS: Final = (
    ("records_alerts_gaps_gateways", _RECORDS),
    ("twin_and_history", _TWIN),
    ("incidents", _INCIDENTS),
    ("credentials", _CREDENTIALS),
)

_VERSIONS = """CREATE TABLE IF NOT EXISTS schema_version (
    version integer PRIMARY KEY, name text NOT NULL, applied_at float8 NOT NULL)"""


async def migrate(conn: Conn) -> int:
    """Apply the steps the database lacks, all in one transaction; how many were applied."""
    async with conn.transaction():
        # Held until commit: a second process waits here, then finds nothing left to do.
        await conn.execute("SELECT pg_advisory_xact_lock(%s)", (LOCK_KEY,))
        await conn.execute(_VERSIONS)
        cursor = await conn.execute("SELECT coalesce(max(version), 0) FROM schema_version")
        row = await cursor.fetchone()
        current = int(row[0]) if row is not None else 0
        if current > len(MIGRATIONS):
            raise StoreError(
                f"the database is at schema version {current}, newer than this release "
                f"knows ({len(MIGRATIONS)}): upgrade citytwin"
            )
        for version, (name, statements) in enumerate(MIGRATIONS, start=1):
            if version <= current:
                continue
            for statement in statements:
                await conn.execute(statement)
            await conn.execute(
                "INSERT INTO schema_version (version, name, applied_at) VALUES (%s, %s, %s)",
                (version, name, time.time()),
            )
        return len(MIGRATIONS) - current
