"""Outbox records the cloud refused for what they hold: set aside, never dropped.

A record the cloud answers with 400, 413 or 422 would block the outbox for ever if it stayed
at its head (the uplink would resend the same batch after every backoff). The uplink bisects
such a batch; a record refused on its own while the cloud takes the records around it is moved
here with the cloud's answer, and the rest of the outbox flows on. After the cause is fixed (a
cloud upgraded, a schema widened), ``citytwin edge refused retry`` puts them back in the
outbox under their own sequence numbers, so the cloud still stores each once.

Jobs for the store's one writer: plain functions of a connection.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from typing import Final

KEEP: Final = 10_000  # refused records kept; the oldest go first (each one also logged)


@dataclass(frozen=True, slots=True)
class Refused:
    """One record the cloud refused, with its answer."""

    seq: int
    type: str
    created: float
    refused_at: float
    status: int
    detail: str
    body: str


def set_aside(conn: sqlite3.Connection, seq: int, status: int, detail: str, now: float) -> None:
    """Move outbox record ``seq`` here with the cloud's answer."""
    conn.execute(
        "INSERT OR REPLACE INTO refused"
        " (seq, priority, type, created, body, refused_at, status, detail)"
        " SELECT seq, priority, type, created, body, ?, ?, ? FROM outbox WHERE seq = ?",
        [now, status, detail[:2000], seq],
    )
    conn.execute("DELETE FROM outbox WHERE seq = ?", [seq])
    conn.execute(
        "DELETE FROM refused WHERE seq NOT IN (SELECT seq FROM refused ORDER BY seq DESC LIMIT ?)",
        [KEEP],
    )


def retry(conn: sqlite3.Connection) -> int:
    """Put every refused record back in the outbox under its own sequence number."""
    moved = conn.execute(
        "INSERT OR IGNORE INTO outbox (seq, priority, type, created, body)"
        " SELECT seq, priority, type, created, body FROM refused"
    ).rowcount
    conn.execute("DELETE FROM refused")
    return int(moved)


def listed(conn: sqlite3.Connection, limit: int) -> list[Refused]:
    """The newest refused records."""
    rows = conn.execute(
        "SELECT seq, type, created, refused_at, status, detail, body FROM refused"
        " ORDER BY seq DESC LIMIT ?",
        [limit],
    ).fetchall()
    return [Refused(*row) for row in rows]
