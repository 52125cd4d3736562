"""The SQLite schema, as sqlite-utils migrations: append new steps, never edit applied ones."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from sqlite_utils import Database
from sqlite_utils.migrations import Migrations

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


def migrate(path: Path) -> None:
    """Bring the database at ``path`` up to the current schema (creating it if needed)."""
    conn = sqlite3.connect(path)
    try:
        # WAL is a property of the file: set once here, every later connection inherits it.
        conn.execute("PRAGMA journal_mode=WAL")
        migrations.apply(Database(conn, execute_plugins=False))
    finally:
        conn.close()
