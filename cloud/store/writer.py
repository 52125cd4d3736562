"""The one thread that writes to SQLite: jobs from a bounded queue, committed in groups.

One writer means no lock contention and no SQLITE_BUSY between writers; readers use their
own connections and WAL lets them run alongside. Overflow policy: when the queue is full a
new job is refused at once with StoreBusy (the gateway keeps the batch and retries), never
blocking the event loop and never queueing without bound.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import queue
import sqlite3
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, TypeVar

from cloud.errors import StoreBusy, StoreError

log = logging.getLogger(__name__)

T = TypeVar("T")
Job = Callable[[sqlite3.Connection], T]
# Jobs queued behind each other share one transaction (group commit): one fsync, and index
# pages dirtied once for all of them. The cap bounds a transaction's size and its latency.
_GROUP_MAX = 16


@dataclass(frozen=True, slots=True)
class _Queued(Generic[T]):
    job: Job[T]
    future: concurrent.futures.Future[T]


class Writer:
    """Runs write jobs on a dedicated thread and connection, each all-or-nothing."""

    def __init__(self, path: Path, *, queue_size: int = 32) -> None:
        self._path = path
        self._queue: queue.Queue[_Queued[Any] | None] = queue.Queue(maxsize=queue_size)
        self._thread: threading.Thread | None = None
        self._accepting = False
        self.rejected = 0

    def start(self) -> None:
        """Open the write connection and start the thread."""
        conn = _connect(self._path)
        self._thread = threading.Thread(
            target=self._loop, args=(conn,), name="citytwin-cloud-writer", daemon=True
        )
        self._thread.start()
        self._accepting = True

    def close(self) -> None:
        """Finish the jobs already queued, then stop the thread (blocking)."""
        if self._thread is None:
            return
        self._accepting = False
        self._queue.put(None)
        self._thread.join()
        self._thread = None
        # A job that slipped in behind the sentinel would otherwise wait forever.
        while True:
            try:
                queued = self._queue.get_nowait()
            except queue.Empty:
                return
            if queued is not None and queued.future.set_running_or_notify_cancel():
                queued.future.set_exception(StoreError("the store closed before this write ran"))

    async def run(self, job: Job[T]) -> T:
        """Run ``job(conn)`` atomically on the writer thread; its result once it is committed."""
        if not self._accepting:
            raise StoreError("the store is closed")
        future: concurrent.futures.Future[T] = concurrent.futures.Future()
        try:
            self._queue.put_nowait(_Queued(job, future))
        except queue.Full:
            self.rejected += 1
            log.warning("write queue full: refused a job (%d refused so far)", self.rejected)
            raise StoreBusy("the store is busy; retry shortly") from None
        return await asyncio.wrap_future(future)

    @property
    def depth(self) -> int:
        """Jobs waiting for the writer."""
        return self._queue.qsize()

    def _loop(self, conn: sqlite3.Connection) -> None:
        try:
            while True:
                group, stop = self._next_group()
                if group:
                    _commit_group(conn, group)
                if stop:
                    return
        finally:
            conn.close()

    def _next_group(self) -> tuple[list[_Queued[Any]], bool]:
        """The next job, and those queued behind it (up to _GROUP_MAX); True once told to stop."""
        first = self._queue.get()
        if first is None:
            return [], True
        group = [first]
        while len(group) < _GROUP_MAX:
            try:
                queued = self._queue.get_nowait()
            except queue.Empty:
                break
            if queued is None:
                return group, True
            group.append(queued)
        return group, False


def _commit_group(conn: sqlite3.Connection, group: list[_Queued[Any]]) -> None:
    """Run jobs in one transaction, each in a savepoint; results are given only once committed."""
    # The request went away before its turn: skip it, the gateway will send it again.
    live = [queued for queued in group if queued.future.set_running_or_notify_cancel()]
    if not live:
        return
    done: list[tuple[_Queued[Any], object]] = []
    try:
        conn.execute("BEGIN IMMEDIATE")
        for queued in live:
            ok, result = _attempt(conn, queued)
            if ok:
                done.append((queued, result))
        conn.execute("COMMIT")
    except sqlite3.Error as exc:  # BEGIN, COMMIT or a savepoint failed: nothing of the group stays
        _rollback(conn)
        log.error("write transaction failed and was rolled back: %s", exc)
        for queued in live:
            if not queued.future.done():
                queued.future.set_exception(_store_error(exc))
        return
    for queued, result in done:
        queued.future.set_result(result)


def _attempt(conn: sqlite3.Connection, queued: _Queued[Any]) -> tuple[bool, object]:
    """Run one job in a savepoint; on failure undo it alone and fail its future."""
    conn.execute("SAVEPOINT job")
    try:
        result = queued.job(conn)
    except Exception as exc:  # the writer thread's supervisor: one bad job must not kill it
        conn.execute("ROLLBACK TO job")
        conn.execute("RELEASE job")
        if isinstance(exc, sqlite3.Error):
            log.error("write failed and was rolled back: %s", exc)
            queued.future.set_exception(_store_error(exc))
        else:
            log.exception("write job crashed and was rolled back")
            queued.future.set_exception(exc)
        return False, None
    conn.execute("RELEASE job")
    return True, result


def _store_error(exc: sqlite3.Error) -> StoreError:
    error = StoreError(f"write failed: {exc}")
    error.__cause__ = exc
    return error


def _rollback(conn: sqlite3.Connection) -> None:
    try:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
    except sqlite3.Error as exc:  # SQLite rolls back on its own when it cannot be asked to
        log.error("rollback failed: %s", exc)


def _connect(path: Path) -> sqlite3.Connection:
    # Autocommit at the driver level: the writer issues BEGIN and COMMIT itself. The
    # connection is handed to the writer thread and used by it alone.
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    # FULL: an IngestResult promises durability, so each commit reaches the disk.
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("PRAGMA busy_timeout=5000")
    conn.execute("PRAGMA cache_size=-32000")
    return conn
