"""The one writer of the gateway's SQLite file, and its readers.

All writes go through one thread fed by a queue, each batch of queued jobs in one
transaction (WAL, synchronous=NORMAL: a crashed process loses nothing committed; a power cut
may lose the last fraction of a second but never corrupts the file). Callers await the commit.

Overflow policy: every producer (ingest, window closing, uplink acks, heartbeats) awaits its own
job before queueing another, so the queue holds at most one job per task; a slow disk slows the
pipeline and, through it, the MQTT source, and the broker holds the backlog (no loss).

Disk: with ``quota_bytes`` set, a commit that leaves the file over its quota sheds what
``quota.py`` says may go, in the same transaction, and records it as gaps and counters.
"""

from __future__ import annotations

import asyncio
import json
import logging
import queue
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple
from urllib.parse import quote

from sqlite_utils import Database

from edge.errors import StoreError
from edge.store import refused
from edge.store.lock import WriterLock
from edge.store.quota import Quota, Shed, read_counters
from edge.store.schema import PRIORITY, migrations

log = logging.getLogger(__name__)

_SHUTDOWN = object()
Job = Callable[[sqlite3.Connection], Any]

_INSERT_OUTBOX = "INSERT INTO outbox (priority, type, created, body) VALUES (?, ?, ?, ?)"
DeadLetterRow = tuple[float, str, str, str, str, bytes]  # received, transport, channel, reason..
WindowMark = tuple[str, str, float, int]  # sensor, metric, window start, highest reading id


class MessageRow(NamedTuple):
    """An accepted message as the ring keeps it: the bytes as they arrived."""

    id: int
    received: float
    transport: str
    channel: str
    payload: bytes


@dataclass(frozen=True, slots=True)
class Recovery:
    """The store's memory of unfinished work, read once at start-up."""

    replay_from: int
    next_id: int
    messages: list[MessageRow]
    closed: dict[tuple[str, str, float], int]


def _json(record: dict[str, Any]) -> str:
    return json.dumps(record, separators=(",", ":"))


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


def connect(path: Path, *, readonly: bool = False) -> sqlite3.Connection:
    """A connection with the store's pragmas."""
    target = f"file:{quote(str(path))}" + ("?mode=ro" if readonly else "")
    conn = sqlite3.connect(target, check_same_thread=False, isolation_level=None, uri=True)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("PRAGMA busy_timeout=5000")
    return conn


def _connect_or_fail(path: Path, *, readonly: bool = False) -> sqlite3.Connection:
    try:
        return connect(path, readonly=readonly)
    except sqlite3.Error as exc:
        raise StoreError(f"cannot open store {path}: {exc}") from exc


class Store:
    """Outbox and dead letters in one SQLite file."""

    def __init__(
        self,
        path: Path,
        *,
        dead_letter_max: int,
        ring_max: int = 500_000,
        quota_bytes: int | None = None,
    ) -> None:
        self.path = path
        self._dead_letter_max = dead_letter_max
        self._ring_max = ring_max
        self._quota = None if quota_bytes is None else Quota(quota_bytes)
        # Outbox records handed to the uplink and not yet acknowledged: never shed (the cloud
        # may hold them already). The lock orders reading them against a shedding commit.
        self._lent: set[int] = set()
        self._lent_lock = threading.Lock()
        self._lock = WriterLock(path)
        self._jobs: queue.Queue[object] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._reader: sqlite3.Connection | None = None
        self._read_lock = threading.Lock()

    def open(self, *, readonly: bool = False) -> None:
        """Create or migrate the file and start the writer thread (``readonly``: reads only).

        A writer takes the store's lock first: a second writer fails with a StoreError.
        """
        if readonly:
            self._reader = _connect_or_fail(self.path, readonly=True)
            return
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"cannot open store {self.path}: {exc}") from exc
        self._lock.acquire()
        try:
            writer = _connect_or_fail(self.path)
            migrations.apply(Database(writer))
        except (sqlite3.Error, StoreError) as exc:
            self._lock.release()
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
        self._lock.release()

    # -- writes ------------------------------------------------------------------------------

    def submit(self, job: Job) -> asyncio.Future[Any]:
        """Queue ``job(conn)`` for the writer now; the future resolves once it is committed.

        Queueing happens before the caller's next await, so jobs commit in the order the
        event loop created them (a summary never commits before the readings it includes).
        """
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        self._jobs.put((job, future, loop))
        return future

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

    async def append_numbered(self, records: list[dict[str, Any]], now: float) -> list[int]:
        """Queue records for the cloud and return their sequence numbers (for alerts)."""
        rows = [(PRIORITY[r["type"]], r["type"], now, _json(r)) for r in records]

        def job(conn: sqlite3.Connection) -> list[int]:
            return [int(conn.execute(_INSERT_OUTBOX, row).lastrowid or 0) for row in rows]

        seqs: list[int] = await self.submit(job)
        return seqs

    async def ack(self, seqs: list[int]) -> None:
        """Forget records the cloud has acknowledged."""

        def job(conn: sqlite3.Connection) -> None:
            conn.executemany("DELETE FROM outbox WHERE seq = ?", [(s,) for s in seqs])
            with self._lent_lock:
                self._lent.difference_update(seqs)

        await self.submit(job)

    def store_batch(
        self, accepted: list[MessageRow], rejected: list[DeadLetterRow]
    ) -> asyncio.Future[Any]:
        """Keep accepted messages (bounded ring) and rejected ones (bounded) in one commit."""
        ring, keep = self._ring_max, self._dead_letter_max

        def job(conn: sqlite3.Connection) -> None:
            if accepted:
                conn.executemany(
                    "INSERT INTO messages (id, received, transport, channel, payload)"
                    " VALUES (?, ?, ?, ?, ?)",
                    accepted,
                )
                # The ring forgets the oldest messages, but never one an open window still needs.
                conn.execute(
                    "DELETE FROM messages WHERE id <= ? AND id < (SELECT value FROM counters"
                    " WHERE name = 'replay_from')",
                    [accepted[-1][0] - ring],
                )
            if rejected:
                conn.executemany(
                    "INSERT INTO dead_letters"
                    " (received, transport, channel, reason, detail, size, payload)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?)",
                    [(r[0], r[1], r[2], r[3], r[4], len(r[5]), r[5][:65536]) for r in rejected],
                )
                # Bounded: the oldest go first; the counter in heartbeats still counts them.
                conn.execute(
                    "DELETE FROM dead_letters WHERE id <= (SELECT MAX(id) FROM dead_letters) - ?",
                    [keep],
                )

        return self.submit(job)

    def requeue(
        self, accepted: list[DeadLetter], failing: list[tuple[int, str, str]]
    ) -> asyncio.Future[Any]:
        """Move dead letters now accepted into the ring; give the others their new reason.

        The moved messages get ids after every stored one, so the agent's start-up replays
        them into windows (as it does after a crash) and they reach the cloud.
        """

        def job(conn: sqlite3.Connection) -> None:
            (last,) = conn.execute(
                "SELECT MAX(COALESCE((SELECT MAX(id) FROM messages), 0),"
                " (SELECT value FROM counters WHERE name = 'replay_from') - 1)"
            ).fetchone()
            conn.executemany(
                "INSERT INTO messages (id, received, transport, channel, payload)"
                " VALUES (?, ?, ?, ?, ?)",
                [(last + 1 + i, d.received, d.transport, d.channel, d.payload)
                 for i, d in enumerate(accepted)],
            )  # fmt: skip
            conn.executemany("DELETE FROM dead_letters WHERE id = ?", [(d.id,) for d in accepted])
            conn.executemany(
                "UPDATE dead_letters SET reason = ?, detail = ? WHERE id = ?",
                [(reason, detail, id_) for id_, reason, detail in failing],
            )

        return self.submit(job)

    def close_windows(
        self, records: list[dict[str, Any]], marks: list[WindowMark], replay_from: int, now: float
    ) -> asyncio.Future[Any]:
        """Queue window summaries and record, in the same commit, which readings they include."""
        rows = [(PRIORITY[r["type"]], r["type"], now, _json(r)) for r in records]

        def job(conn: sqlite3.Connection) -> None:
            conn.executemany(_INSERT_OUTBOX, rows)
            conn.executemany(
                "INSERT INTO closed_windows (sensor, metric, start, through_id) VALUES (?,?,?,?)"
                " ON CONFLICT DO UPDATE SET through_id = MAX(through_id, excluded.through_id)",
                marks,
            )
            conn.execute("UPDATE counters SET value = ? WHERE name = 'replay_from'", [replay_from])

        return self.submit(job)

    def recover(self, recent: int) -> Recovery:
        """What a restarted agent needs: readings to replay and what summaries already hold."""
        replay_from = self._read("SELECT value FROM counters WHERE name = 'replay_from'", [])[0][0]
        # The quota may have shed every message already summarised: ids go on from there.
        last = self._read("SELECT COALESCE(MAX(id), 0) FROM messages", [])[0][0]
        last = max(last, replay_from - 1)
        start = min(replay_from, last - recent + 1)
        rows = self._read(
            "SELECT id, received, transport, channel, payload FROM messages"
            " WHERE id >= ? ORDER BY id",
            [start],
        )
        closed = self._read(
            "SELECT sensor, metric, start, through_id FROM closed_windows WHERE through_id >= ?",
            [replay_from],
        )
        return Recovery(
            replay_from=replay_from,
            next_id=last + 1,
            messages=[MessageRow(*r) for r in rows],
            closed={(r[0], r[1], r[2]): r[3] for r in closed},
        )

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
            self._commit(conn)
        except sqlite3.Error as exc:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            log.error("store write failed: %s", exc)
            error = StoreError(f"store write failed: {exc}")
            results = [(f, lp, error, False) for _, f, lp in batch]
        for future, loop, value, ok in results:
            loop.call_soon_threadsafe(_resolve, future, value, ok)

    async def refuse(self, seq: int, status: int, detail: str) -> None:
        """Set outbox record ``seq`` aside: the cloud refused it for what it holds."""
        await self.submit(lambda conn: refused.set_aside(conn, seq, status, detail, time.time()))
        self.release([seq])

    def retry_refused(self) -> asyncio.Future[int]:
        """Put every refused record back in the outbox; resolves to how many."""
        return self.submit(refused.retry)

    def refused(self, limit: int) -> list[refused.Refused]:
        """The newest records the cloud refused."""
        if self._reader is None:
            raise StoreError("store is not open")
        with self._read_lock:
            try:
                return refused.listed(self._reader, limit)
            except sqlite3.OperationalError as exc:  # a store the agent has not migrated yet
                raise StoreError(f"cannot read refused records: {exc}") from exc

    def release(self, seqs: list[int]) -> None:
        """Records the uplink handed out and the cloud surely did not get: sheddable again."""
        with self._lent_lock:
            self._lent.difference_update(seqs)

    def _commit(self, conn: sqlite3.Connection) -> None:
        if self._quota is None or not self._quota.over(conn):
            conn.execute("COMMIT")
            return
        # Shed and commit under the lock the uplink reads under: it cannot pick a record this
        # commit sheds, and a record it picked is in ``_lent`` before shedding starts.
        with self._lent_lock:
            self._quota.enforce(conn, self._lent, time.time())
            conn.execute("COMMIT")

    # -- reads -------------------------------------------------------------------------------

    def pending(self, limit: int) -> list[OutboxRow]:
        """The next records to send: alerts, gaps and heartbeats first, then summaries.

        Summaries come half from the newest and half from the oldest: after an outage the
        backlog drains while live windows keep reaching the cloud, instead of waiting behind
        an hour of backfill. Without a backlog both halves are the same few rows.
        """
        with self._lent_lock:
            rows = self._read(
                "SELECT seq, created, body FROM outbox WHERE priority < ? ORDER BY priority, seq"
                " LIMIT ?", [PRIORITY["summary"], limit],
            )  # fmt: skip
            room = limit - len(rows)
            if room > 0:
                summary = "SELECT seq, created, body FROM outbox WHERE priority = ? ORDER BY seq"
                live = self._read(f"{summary} DESC LIMIT ?", [PRIORITY["summary"], room // 2])
                taken = {row[0] for row in live}
                backlog = self._read(f"{summary} LIMIT ?", [PRIORITY["summary"], room])
                backlog = [row for row in backlog if row[0] not in taken][: room - len(live)]
                rows += sorted(backlog + live)
            self._lent.update(row[0] for row in rows)
        return [OutboxRow(*row) for row in rows]

    def depth(self) -> tuple[int, float | None]:
        """Records waiting, and the creation time of the oldest."""
        count, oldest = self._read("SELECT COUNT(*), MIN(created) FROM outbox", [])[0]
        return int(count), oldest

    def shed(self) -> Shed:
        """Everything the quota made the store drop since it was created."""
        if self._reader is None:
            raise StoreError("store is not open")
        with self._read_lock:
            return read_counters(self._reader)

    def dead_letters(
        self, limit: int, reason: str | None = None, *, oldest_first: bool = False
    ) -> list[DeadLetter]:
        """The newest (or oldest) dead letters, optionally of one reason."""
        rows = self._read(
            "SELECT id, received, transport, channel, reason, detail, size, payload"
            " FROM dead_letters WHERE ?1 IS NULL OR reason = ?1"
            " ORDER BY CASE WHEN ?3 THEN id ELSE -id END LIMIT ?2",
            [reason, limit, oldest_first],
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
