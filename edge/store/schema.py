"""Schema migrations of the gateway store (sqlite-utils Migrations: applied once, in order)."""

from __future__ import annotations

import time

from sqlite_utils import Database
from sqlite_utils.migrations import Migrations

migrations = Migrations("citytwin-edge")

# Outbox priorities. Lower numbers leave first: alerts, then gap reports and heartbeats, then
# summaries.
PRIORITY = {"alert": 0, "gap": 1, "heartbeat": 1, "summary": 2}


@migrations()
def m001_outbox(db: Database) -> None:
    """Records waiting for the cloud's acknowledgement, and the dead-letter store."""
    db.execute(
        "CREATE TABLE outbox ("
        " seq INTEGER PRIMARY KEY AUTOINCREMENT,"
        " priority INTEGER NOT NULL,"
        " type TEXT NOT NULL,"
        " created REAL NOT NULL,"
        " body TEXT NOT NULL)"
    )
    db.execute("CREATE INDEX outbox_send_order ON outbox (priority, seq)")
    # A store created anew (a reinstalled gateway) must never reuse (gateway, seq) keys the
    # cloud already holds, or the cloud would drop new records as duplicates: start the
    # sequence at the current time in microseconds.
    db.execute(
        "INSERT INTO sqlite_sequence (name, seq) VALUES ('outbox', ?)",
        [int(time.time() * 1_000_000)],
    )
    db.execute(
        "CREATE TABLE dead_letters ("
        " id INTEGER PRIMARY KEY AUTOINCREMENT,"
        " received REAL NOT NULL,"
        " transport TEXT NOT NULL,"
        " channel TEXT NOT NULL,"
        " reason TEXT NOT NULL,"
        " detail TEXT NOT NULL,"
        " size INTEGER NOT NULL,"
        " payload BLOB NOT NULL)"
    )
    db.execute("CREATE TABLE counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL)")


@migrations()
def m002_messages(db: Database) -> None:
    """Accepted messages as they arrived (a bounded ring) and what summaries already include.

    A message is acknowledged to the broker only after it is stored here, and the summary of a
    window records the highest message id it includes, so after a crash the agent decodes the
    stored messages again and rebuilds its open windows without losing or double-counting.
    Keeping the bytes as received costs nothing to encode on the hot path.
    """
    db.execute(
        "CREATE TABLE messages ("
        " id INTEGER PRIMARY KEY,"
        " received REAL NOT NULL,"
        " transport TEXT NOT NULL,"
        " channel TEXT NOT NULL,"
        " payload BLOB NOT NULL)"
    )
    db.execute(
        "CREATE TABLE closed_windows ("
        " sensor TEXT NOT NULL,"
        " metric TEXT NOT NULL,"
        " start REAL NOT NULL,"
        " through_id INTEGER NOT NULL,"
        " PRIMARY KEY (sensor, metric, start)) WITHOUT ROWID"
    )
    db.execute("INSERT INTO counters (name, value) VALUES ('replay_from', 1)")


@migrations()
def m003_refused(db: Database) -> None:
    """Outbox records the cloud refused for their content (see ``edge.store.refused``)."""
    db.execute(
        "CREATE TABLE refused ("
        " seq INTEGER PRIMARY KEY,"
        " priority INTEGER NOT NULL,"
        " type TEXT NOT NULL,"
        " created REAL NOT NULL,"
        " body TEXT NOT NULL,"
        " refused_at REAL NOT NULL,"
        " status INTEGER NOT NULL,"
        " detail TEXT NOT NULL)"
    )
