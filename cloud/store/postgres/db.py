"""A pool of async PostgreSQL connections; every job runs in its own transaction on it.

psycopg errors are converted here, once: a pool with no free connection in time is StoreBusy
(the client retries), any other database error is StoreError. A deadlock or serialization
failure between two processes is retried a few times first, since the job is all-or-nothing
and running it again is exactly what the loser would be told to do.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import psycopg
from psycopg import AsyncConnection, errors
from psycopg.abc import Buffer
from psycopg.types.string import StrBinaryDumper, StrDumperUnknown
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from cloud.errors import StoreBusy, StoreError

log = logging.getLogger(__name__)

T = TypeVar("T")
Conn = AsyncConnection[Any]
Job = Callable[[Conn], Awaitable[T]]
_ATTEMPTS = 4
_RETRYABLE = (errors.DeadlockDetected, errors.SerializationFailure)


class Database:
    """Connections to one PostgreSQL database, opened by ``open()`` and lent to jobs."""

    def __init__(self, url: str, *, min_size: int = 1, max_size: int = 8, wait_s: float = 5.0):
        self.url = url
        self._wait_s = wait_s
        # Autocommit at the driver level: run() opens and ends every transaction itself.
        self._pool: AsyncConnectionPool[Conn] = AsyncConnectionPool(
            url,
            min_size=min_size,
            max_size=max_size,
            kwargs={"autocommit": True},
            configure=_configure,
            open=False,
            timeout=wait_s,
            name="citytwin-cloud",
        )
        self._open = False

    async def connect(self) -> Conn:
        """One connection of its own (autocommit), outside the pool: for migrations."""
        try:
            return await AsyncConnection.connect(
                self.url, autocommit=True, connect_timeout=max(2, int(self._wait_s))
            )
        except psycopg.Error as exc:
            raise StoreError(f"cannot connect to PostgreSQL: {exc}") from exc

    async def open(self) -> None:
        """Fill the pool to its minimum; StoreError if the server cannot be reached."""
        try:
            await self._pool.open(wait=True, timeout=self._wait_s)
        except (PoolTimeout, psycopg.Error) as exc:
            await self._pool.close()
            raise StoreError(f"cannot connect to PostgreSQL: {exc}") from exc
        self._open = True

    async def close(self) -> None:
        """Wait for lent connections to come back, then close them all."""
        self._open = False
        await self._pool.close()

    async def run(self, job: Job[T]) -> T:
        """Run ``job(conn)`` in one transaction: its result once committed, or nothing kept."""
        if not self._open:
            raise StoreError("the store is closed")
        for attempt in range(1, _ATTEMPTS + 1):
            try:
                async with self._pool.connection() as conn, conn.transaction():
                    return await job(conn)
            except _RETRYABLE as exc:
                if attempt == _ATTEMPTS:
                    raise _store_error(exc) from exc
                log.info("transaction lost to a concurrent one (%s); running it again", exc)
            except PoolTimeout as exc:
                log.warning("no database connection free within %.1fs", self._wait_s)
                raise StoreBusy("the store is busy; retry shortly") from exc
            except psycopg.Error as exc:
                log.error("database transaction failed and was rolled back: %s", exc)
                raise _store_error(exc) from exc
        raise AssertionError("unreachable: the last attempt returns or raises")


class _NulSafeStr(StrDumperUnknown):
    """Text with NUL characters, which PostgreSQL text cannot hold, sent with U+FFFD instead
    (_NulSafeStrBinary likewise, for the binary format the bulk inserts use).

    SQLite stores and compares such text as given; refusing it here would turn a filter that
    matches nothing, or a free-text field, into a 503. Replacing NUL the way a decoder
    replaces what it cannot represent keeps stores and lookups consistent with each other.
    """

    def dump(self, obj: str) -> Buffer | None:
        return super().dump(obj.replace("\x00", "\ufffd"))


class _NulSafeStrBinary(StrBinaryDumper):
    def dump(self, obj: str) -> Buffer | None:
        return super().dump(obj.replace("\x00", "\ufffd"))


async def _configure(conn: Conn) -> None:
    conn.adapters.register_dumper(str, _NulSafeStrBinary)
    conn.adapters.register_dumper(str, _NulSafeStr)  # the last registered is %s's default


def _store_error(exc: psycopg.Error) -> StoreError:
    return StoreError(f"database error: {exc}")


async def fetch_all(conn: Conn, sql: str, params: Any = ()) -> list[Any]:
    """Every row ``sql`` returns (the text is the caller's fixed SQL; values are bound)."""
    cursor = await conn.execute(sql, params)
    return await cursor.fetchall()


async def fetch_one(conn: Conn, sql: str, params: Any = ()) -> Any:
    """The first row ``sql`` returns, or None."""
    cursor = await conn.execute(sql, params)
    return await cursor.fetchone()
