"""Notices between the aggregator processes on one database: PostgreSQL LISTEN/NOTIFY.

Sending: all of one call's notices in one transaction on a pooled connection, so they are
delivered together and in order when it commits. Receiving: one connection of its own that
LISTENs, is probed when the channel has been quiet for a while (a silent drop is found), and
is reopened with backoff when lost. PostgreSQL keeps a notice only for the sessions listening
when it was sent, so what was sent while the link was down is gone: the first thing received
after the link is back is ``Listening`` with how long it was down, for the receiver to tell
its clients.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Sequence
from typing import Final

import psycopg

from cloud.errors import StoreError
from cloud.store.base import Fanout, Listening
from cloud.store.postgres.db import Conn, Database

log = logging.getLogger(__name__)

# Channels are per database: aggregators of another database on the same server never hear it.
CHANNEL: Final = "citytwin_live"
APPLICATION: Final = "citytwin-listen"
# PostgreSQL refuses a payload of 8000 bytes or more (in the server's encoding, UTF-8 here).
MAX_NOTICE_BYTES: Final = 7900
_QUIET_S: Final = 30.0
_PROBE_S: Final = 10.0
_BACKOFF_S: Final = (0.5, 30.0)
# unnest yields the array in order, and pg_notify runs once per row as the scan yields it.
_NOTIFY = "SELECT pg_notify(%s, notice) FROM unnest(%s::text[]) AS notice"


class PostgresFanout(Fanout):
    """NOTIFY on the store's pool; LISTEN on a connection of its own, opened by ``receive``."""

    max_bytes = MAX_NOTICE_BYTES

    def __init__(self, db: Database) -> None:
        self._db = db

    async def send(self, notices: Sequence[str]) -> None:
        """NOTIFY every listener of the database (StoreError if the transaction fails)."""
        if notices:
            await self._db.run(lambda conn: _notify(conn, list(notices)))

    async def receive(self) -> AsyncIterator[str | Listening]:
        """Notices as they arrive, forever, reconnecting with backoff (the link's supervisor)."""
        delay = 0.0  # the first attempt is at once; after a loss, at least _BACKOFF_S[0] later
        lost_at: float | None = None
        while True:
            await asyncio.sleep(delay)
            delay = min(max(delay * 2, _BACKOFF_S[0]), _BACKOFF_S[1])
            try:
                conn = await self._db.connect()
            except StoreError as exc:
                lost_at = lost_at if lost_at is not None else time.monotonic()
                log.warning("fan-out: cannot listen (again in %.1fs): %s", delay, exc)
                continue
            try:
                # Named, so an operator can find it in pg_stat_activity (one per aggregator).
                await conn.execute(f"SET application_name TO '{APPLICATION}'")
                await conn.execute(f"LISTEN {CHANNEL}")
                delay = _BACKOFF_S[0]
                down_s = None if lost_at is None else time.monotonic() - lost_at
                if down_s is not None:
                    log.info("fan-out: listening again after %.1fs", down_s)
                lost_at = None
                yield Listening(down_s)
                async for notice in _notices(conn):
                    yield notice
            except (psycopg.Error, TimeoutError) as exc:
                lost_at = time.monotonic()
                log.warning("fan-out: lost the listening connection: %s", str(exc) or "no answer")
            finally:
                await conn.close()


async def _notify(conn: Conn, notices: list[str]) -> None:
    await conn.execute(_NOTIFY, (CHANNEL, notices))


async def _notices(conn: Conn) -> AsyncIterator[str]:
    while True:
        # Notices that arrive while the probe runs wait in psycopg's backlog for the next round.
        async for notify in conn.notifies(timeout=_QUIET_S):
            yield notify.payload
        async with asyncio.timeout(_PROBE_S):
            await conn.execute("SELECT 1")
