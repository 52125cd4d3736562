"""The SQLite schema, as sqlite-utils migrations: append new steps, never edit applied ones."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from sqlite_utils import Database
from sqlite_utils.migrations import Migrations

from cloud.store import history

migrations = Migrations("citytwin-cloud")

_INITIAL = (
    # Every record ever accepted, by its wire key: this table is what makes re-sends harmless.
    """CREATE TABLE records (
        gateway TEXT NOT NULL, seq INTEGER NOT NULL, type TEXT NOT NULL,
        received_at REAL NOT NULL,
        PRIMARY KEY (gateway, seq)
    ) STRICT, WITHOUT ROWID""",
    # Append-only, in arrival order, and deliberately without a per-series index yet: one
    # costs a dirty page per series per transaction, measured to halve ingest once the file
    # outgrows the page cache. History queries will bring their own structure and its cost.
    """CREATE TABLE summaries (
        id INTEGER PRIMARY KEY, gateway TEXT NOT NULL, seq INTEGER NOT NULL,
        entity TEXT NOT NULL, sensor TEXT NOT NULL, kind TEXT NOT NULL, metric TEXT NOT NULL,
        window_start REAL NOT NULL, window_end REAL NOT NULL,
        count INTEGER NOT NULL, total REAL NOT NULL, low REAL NOT NULL, high REAL NOT NULL,
        m2 REAL NOT NULL, first_ts REAL NOT NULL, last_ts REAL NOT NULL,
        last_value REAL NOT NULL, anomalies INTEGER NOT NULL, max_score REAL,
        expected INTEGER, late INTEGER NOT NULL, received_at REAL NOT NULL
    ) STRICT""",
    """CREATE TABLE alerts (
        id INTEGER PRIMARY KEY, gateway TEXT NOT NULL, seq INTEGER NOT NULL,
        entity TEXT NOT NULL, sensor TEXT NOT NULL, kind TEXT NOT NULL, metric TEXT NOT NULL,
        ts REAL NOT NULL, value REAL NOT NULL, low REAL, high REAL, score REAL NOT NULL,
        severity TEXT NOT NULL, reason TEXT NOT NULL, received_at REAL NOT NULL
    ) STRICT""",
    "CREATE INDEX alerts_entity ON alerts (entity, ts)",
    """CREATE TABLE gaps (
        id INTEGER PRIMARY KEY, gateway TEXT NOT NULL, seq INTEGER NOT NULL,
        sensor TEXT, metric TEXT, gap_start REAL NOT NULL, gap_end REAL NOT NULL,
        count INTEGER NOT NULL, reason TEXT NOT NULL, received_at REAL NOT NULL
    ) STRICT""",
    """CREATE TABLE gateways (
        id TEXT PRIMARY KEY, first_seen REAL NOT NULL, last_seen REAL NOT NULL,
        heartbeat TEXT, heartbeat_seq INTEGER, heartbeat_at REAL,
        desired_config_version INTEGER NOT NULL DEFAULT 0, desired_model_version TEXT
    ) STRICT""",
    """CREATE TABLE entities (
        id TEXT PRIMARY KEY, sensor TEXT NOT NULL, kind TEXT NOT NULL, type TEXT NOT NULL,
        category TEXT NOT NULL, gateway TEXT NOT NULL, location TEXT,
        attributes TEXT NOT NULL DEFAULT '{}', first_seen REAL NOT NULL, updated_at REAL NOT NULL
    ) STRICT""",
    "CREATE INDEX entities_type ON entities (type)",
    "CREATE INDEX entities_kind ON entities (kind)",
    "CREATE INDEX entities_gateway ON entities (gateway)",
    # The live status: one row per (entity, metric), replaced only by a newer observation.
    """CREATE TABLE latest (
        entity TEXT NOT NULL, metric TEXT NOT NULL, value REAL NOT NULL,
        observed_at REAL NOT NULL,
        PRIMARY KEY (entity, metric)
    ) STRICT, WITHOUT ROWID""",
)


@migrations()
def m001_initial(db: Database) -> None:
    """Records, summaries, alerts, gaps, gateways, entities and their latest values."""
    for statement in _INITIAL:
        db.execute(statement)


_TWIN = (
    # Rebuilt for seeded entities (no sensor, kind or gateway) and for a stable integer key the
    # R*Tree can point at: a VACUUM may renumber implicit rowids, never an INTEGER PRIMARY KEY.
    """CREATE TABLE entities_v2 (
        rid INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, type TEXT NOT NULL,
        category TEXT NOT NULL, name TEXT, sensor TEXT, kind TEXT, gateway TEXT, district TEXT,
        location TEXT, attributes TEXT NOT NULL DEFAULT '{}', first_seen REAL NOT NULL,
        updated_at REAL NOT NULL
    ) STRICT""",
    """INSERT INTO entities_v2 (id, type, category, sensor, kind, gateway, location, attributes,
        first_seen, updated_at)
    SELECT id, type, category, sensor, kind, gateway, location, attributes, first_seen, updated_at
    FROM entities ORDER BY id""",
    "DROP TABLE entities",
    "ALTER TABLE entities_v2 RENAME TO entities",
    # (filter, id): a filtered page comes out of the index in order, without a sort.
    "CREATE INDEX entities_type ON entities (type, id)",
    "CREATE INDEX entities_category ON entities (category, id)",
    "CREATE INDEX entities_kind ON entities (kind, id)",
    "CREATE INDEX entities_gateway ON entities (gateway, id)",
    "CREATE INDEX entities_district ON entities (district, id)",
    # A type within a district (sensors of a kind, per district) is the dashboard's usual ask.
    "CREATE INDEX entities_district_type ON entities (district, type, id)",
    "CREATE INDEX entities_sensor ON entities (sensor)",
    "CREATE VIRTUAL TABLE entity_bounds USING rtree(rid, min_lon, max_lon, min_lat, max_lat)",
    """CREATE TABLE relationships (
        subject TEXT NOT NULL, name TEXT NOT NULL, object TEXT NOT NULL,
        PRIMARY KEY (subject, name, object)
    ) STRICT, WITHOUT ROWID""",
    "CREATE INDEX relationships_object ON relationships (object, name)",
    # Gap records are rare; history looks them up per sensor, or per gateway for whole-gateway gaps.
    "CREATE INDEX gaps_sensor ON gaps (sensor, gap_start)",
    "CREATE INDEX gaps_gateway ON gaps (gateway, gap_start)",
)

_HISTORY = (
    # One row per (entity, metric) and window, every summary of the window merged into it at
    # ingest. Keyed time bucket first: live ingest touches only the newest bucket (a few MB,
    # always in the page cache), while one metric's day is 288 short range reads. The entity
    # is its integer rid, which the ingest upsert returns, so no lookup is needed.
    """CREATE TABLE windows (
        bucket INTEGER NOT NULL, entity INTEGER NOT NULL, metric TEXT NOT NULL,
        window_start REAL NOT NULL, window_end REAL NOT NULL,
        count INTEGER NOT NULL, total REAL NOT NULL, low REAL NOT NULL, high REAL NOT NULL,
        m2 REAL NOT NULL, first_ts REAL NOT NULL, last_ts REAL NOT NULL,
        last_value REAL NOT NULL, anomalies INTEGER NOT NULL, max_score REAL, expected INTEGER,
        parts INTEGER NOT NULL,
        PRIMARY KEY (bucket, entity, metric, window_start, window_end)
    ) STRICT, WITHOUT ROWID""",
)


@migrations()
def m002_city_and_history(db: Database) -> None:
    """Seedable entities with bounds and relationships; merged windows replace raw summaries."""
    for statement in (*_TWIN, *_HISTORY):
        db.execute(statement)
    conn = db.conn
    # Fold any raw summaries into windows with the ingest merge, oldest first.
    old = conn.execute(
        f"""SELECT {", ".join(history.SUMMARY_COLUMNS)} FROM summaries
        JOIN entities ON entities.id = summaries.entity ORDER BY summaries.id"""  # noqa: S608
    ).fetchall()
    for row in old:
        conn.execute(history.upsert_sql(1), history.window_row(row))
    db.execute("DROP TABLE summaries")


_INCIDENTS = (
    """CREATE TABLE incidents (
        id INTEGER PRIMARY KEY, entity TEXT NOT NULL, cause TEXT NOT NULL, department TEXT,
        state TEXT NOT NULL CHECK (state IN ('open', 'acknowledged', 'resolved')),
        severity TEXT NOT NULL, assignee TEXT, alerts INTEGER NOT NULL,
        first_alert_at REAL NOT NULL, last_alert_at REAL NOT NULL, last_value REAL NOT NULL,
        opened_at REAL NOT NULL, updated_at REAL NOT NULL
    ) STRICT""",
    # At most one active incident per entity and cause: new alerts join it.
    """CREATE UNIQUE INDEX incidents_active ON incidents (entity, cause)
        WHERE state != 'resolved'""",
    "CREATE INDEX incidents_updated ON incidents (updated_at)",
    "CREATE INDEX incidents_department ON incidents (department, updated_at)",
    """CREATE TABLE incident_events (
        id INTEGER PRIMARY KEY, incident INTEGER NOT NULL REFERENCES incidents (id),
        at REAL NOT NULL, actor TEXT NOT NULL, action TEXT NOT NULL, detail TEXT NOT NULL
    ) STRICT""",
    "CREATE INDEX incident_events_incident ON incident_events (incident, id)",
)


@migrations()
def m003_incidents(db: Database) -> None:
    """Incidents grouped from alerts, with their audit trail."""
    for statement in _INCIDENTS:
        db.execute(statement)


_CREDENTIALS = (
    # Only digests of secrets are stored (cloud/credentials.py); revoked rows are kept for audit.
    """CREATE TABLE api_keys (
        id TEXT PRIMARY KEY, name TEXT NOT NULL,
        role TEXT NOT NULL CHECK (role IN ('viewer', 'operator', 'admin')),
        departments TEXT NOT NULL DEFAULT '[]', digest TEXT NOT NULL,
        created_at REAL NOT NULL, revoked_at REAL
    ) STRICT""",
    # One pending or used code per gateway: registering again replaces it.
    """CREATE TABLE enrollments (
        gateway TEXT PRIMARY KEY, digest TEXT NOT NULL, created_at REAL NOT NULL,
        expires_at REAL NOT NULL, used_at REAL
    ) STRICT""",
    """CREATE TABLE gateway_tokens (
        id TEXT PRIMARY KEY, gateway TEXT NOT NULL, digest TEXT NOT NULL,
        created_at REAL NOT NULL, revoked_at REAL
    ) STRICT""",
    "CREATE INDEX gateway_tokens_gateway ON gateway_tokens (gateway)",
)


@migrations()
def m004_credentials(db: Database) -> None:
    """API keys, gateway enrollments and gateway tokens."""
    for statement in _CREDENTIALS:
        db.execute(statement)


def migrate(path: Path) -> None:
    """Bring the database at ``path`` up to the current schema (creating it if needed)."""
    conn = sqlite3.connect(path)
    try:
        # WAL is a property of the file: set once here, every later connection inherits it.
        conn.execute("PRAGMA journal_mode=WAL")
        migrations.apply(Database(conn, execute_plugins=False))
    finally:
        conn.close()
