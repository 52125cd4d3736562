"""The one writer of the gateway's SQLite file, and its readers.

All writes go through one thread fed by a queue, each batch of queued jobs in one
transaction (WAL, synchronous=NORMAL: a crashed process loses nothing committed; a power cut
may lose the last fraction of a second but never corrupts the file). Callers await the commit.

Overflow policy: at most ``_MAX_JOBS`` jobs wait for the writer; a caller beyond that awaits a
free place, which slows the pipeline and, through it, the MQTT source (backpressure, no loss).
"""

from __future__ import annotations

import asyncio
import json
import logging
import queue
import sqlite3
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlite_utils import Database

from edge.errors import StoreError
from edge.store.schema import migrations

log = logging.getLogger(__name__)

_MAX_JOBS = 1000
_SHUTDOWN = object()
Job = Callable[[sqlite3.Connection], Any]

# Lower numbers leave first: alerts, then gap reports and heartbeats, then summaries.
PRIORITY = {"alert": 0, "gap": 1, "heartbeat": 1, "summary": 2}


@dataclass(frozen=True, slots=True)
class OutboxRow:
    """One record waiting for the cloud, with its permanent sequence number."""

    seq: int
    created: float
    body: str

    def wire(self) -> str:
        """The record as uplink JSON, its seq spliced in (bodies are stored without it)."""
        return f'{{"seq":{self.seq},{self.body[1:]}'


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """A rejected message as the dead-letter store keeps it."""

    id: int
    received: float
    transport: str
    channel: str
    reason: str
    detail: str
    size: int
    payload: bytes


def connect(path: Path) -> sqlite3.Connection:
    """A connection with the store's pragmas."""
    conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("PRAGMA busy_timeout=5000")
    return conn


class Store:
    """Outbox and dead letters in one SQLite file."""

    def __init__(self, path: Path, *, dead_letter_max: int) -> None:
        self.path = path
        self._dead_letter_max = dead_letter_max
        self._jobs: queue.Queue[object] = queue.Queue()
        self._slots = asyncio.Semaphore(_MAX_JOBS)
        self._thread: threading.Thread | None = None
        self._reader: sqlite3.Connection | None = None
        self._read_lock = threading.Lock()

    def open(self) -> None:
        """Create or migrate the file and start the writer thread."""
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            writer = connect(self.path)
            migrations.apply(Database(writer))
        except (OSError, sqlite3.Error) as exc:
            raise StoreError(f"cannot open store {self.path}: {exc}") from exc
        self._reader = connect(self.path)
        self._thread = threading.Thread(
            target=self._write_loop, args=(writer,), name="store-writer", daemon=True
        )
        self._thread.start()

    def close(self) -> None:
        """Finish queued writes and stop the writer."""
        if self._thread is not None:
            self._jobs.put(_SHUTDOWN)
            self._thread.join()
            self._thread = None
        if self._reader is not None:
            self._reader.close()
            self._reader = None

    # -- writes ------------------------------------------------------------------------------

    async def submit(self, job: Job) -> Any:
        """Run ``job(conn)`` on the writer inside a transaction; returns once committed."""
        async with self._slots:
            loop = asyncio.get_running_loop()
            future: asyncio.Future[Any] = loop.create_future()
            self._jobs.put((job, future, loop))
            return await future

    async def append(self, records: Iterable[dict[str, Any]], now: float) -> None:
        """Queue records for the cloud (each a dict with a ``type``)."""
        rows = [
            (PRIORITY[r["type"]], r["type"], now, json.dumps(r, separators=(",", ":")))
            for r in records
        ]
        if rows:
            await self.submit(
                lambda c: c.executemany(
                    "INSERT INTO outbox (priority, type, created, body) VALUES (?, ?, ?, ?)", rows
                )
            )

    async def ack(self, seqs: list[int]) -> None:
        """Forget records the cloud has acknowledged."""
        await self.submit(
            lambda c: c.executemany("DELETE FROM outbox WHERE seq = ?", [(s,) for s in seqs])
        )

    async def dead_letter(self, rows: list[tuple[float, str, str, str, str, bytes]]) -> None:
        """Keep rejected messages (received, transport, channel, reason, detail, payload)."""
        keep = self._dead_letter_max

        def job(conn: sqlite3.Connection) -> None:
            conn.executemany(
                "INSERT INTO dead_letters"
                " (received, transport, channel, reason, detail, size, payload)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                [(r[0], r[1], r[2], r[3], r[4], len(r[5]), r[5][:65536]) for r in rows],
            )
            # Bounded: the oldest go first; the counter in heartbeats still counts them.
            conn.execute(
                "DELETE FROM dead_letters WHERE id <= (SELECT MAX(id) FROM dead_letters) - ?",
                [keep],
            )

        await self.submit(job)

    def _write_loop(self, conn: sqlite3.Connection) -> None:
        while True:
            batch = [self._jobs.get()]
            while len(batch) < 500:
                try:
                    batch.append(self._jobs.get_nowait())
                except queue.Empty:
                    break
            stop = any(item is _SHUTDOWN for item in batch)
            self._run_batch(conn, [b for b in batch if b is not _SHUTDOWN])
            if stop:
                conn.close()
                return

    def _run_batch(self, conn: sqlite3.Connection, batch: list[Any]) -> None:
        results: list[tuple[asyncio.Future[Any], asyncio.AbstractEventLoop, Any, bool]] = []
        try:
            conn.execute("BEGIN IMMEDIATE")
            for job, future, loop in batch:
                results.append((future, loop, job(conn), True))
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            log.error("store write failed: %s", exc)
            error = StoreError(f"store write failed: {exc}")
            results = [(f, lp, error, False) for _, f, lp in batch]
        for future, loop, value, ok in results:
            loop.call_soon_threadsafe(_resolve, future, value, ok)

    # -- reads -------------------------------------------------------------------------------

    def pending(self, limit: int) -> list[OutboxRow]:
        """The next records to send, alerts first, oldest first within a priority."""
        rows = self._read(
            "SELECT seq, created, body FROM outbox ORDER BY priority, seq LIMIT ?", [limit]
        )
        return [OutboxRow(*row) for row in rows]

    def depth(self) -> tuple[int, float | None]:
        """Records waiting, and the creation time of the oldest."""
        count, oldest = self._read("SELECT COUNT(*), MIN(created) FROM outbox", [])[0]
        return int(count), oldest

    def dead_letters(self, limit: int, reason: str | None = None) -> list[DeadLetter]:
        """The newest dead letters, optionally of one reason."""
        rows = self._read(
            "SELECT id, received, transport, channel, reason, detail, size, payload"
            " FROM dead_letters WHERE ?1 IS NULL OR reason = ?1 ORDER BY id DESC LIMIT ?2",
            [reason, limit],
        )
        return [DeadLetter(*row) for row in rows]

    def _read(self, sql: str, args: list[Any]) -> list[tuple[Any, ...]]:
        if self._reader is None:
            raise StoreError("store is not open")
        with self._read_lock:  # one reader connection, used from worker threads
            return self._reader.execute(sql, args).fetchall()


def _resolve(future: asyncio.Future[Any], value: Any, ok: bool) -> None:
    if future.cancelled():
        return
    if ok:
        future.set_result(value)
    else:
        future.set_exception(value)
