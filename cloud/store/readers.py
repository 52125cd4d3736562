"""Read-only SQLite connections, pooled, used from worker threads off the event loop."""

from __future__ import annotations

import asyncio
import queue
import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from cloud.errors import StoreError

T = TypeVar("T")
Query = Callable[[sqlite3.Connection], T]


class Readers:
    """A pool of read-only connections; WAL lets them read while the writer writes."""

    def __init__(self, path: Path) -> None:
        self._uri = f"{path.resolve().as_uri()}?mode=ro"
        self._idle: queue.SimpleQueue[sqlite3.Connection] = queue.SimpleQueue()
        self._open = False
        self._lock = threading.Lock()  # so close() and a late release agree on who closes

    def open(self) -> None:
        """Allow reads (connections are made on first use)."""
        self._open = True

    def close(self) -> None:
        """Close the idle connections; later reads fail with StoreError."""
        with self._lock:
            self._open = False
            while True:
                try:
                    self._idle.get_nowait().close()
                except queue.Empty:
                    return

    async def run(self, query: Query[T]) -> T:
        """Run ``query(conn)`` on a pooled connection in a worker thread."""
        if not self._open:
            raise StoreError("the store is closed")
        return await asyncio.to_thread(self._call, query)

    def _call(self, query: Query[T]) -> T:
        conn = self._acquire()
        try:
            return query(conn)
        except sqlite3.Error as exc:
            raise StoreError(f"read failed: {exc}") from exc
        finally:
            self._release(conn)

    def _acquire(self) -> sqlite3.Connection:
        try:
            return self._idle.get_nowait()
        except queue.Empty:
            pass
        try:
            conn = sqlite3.connect(self._uri, uri=True, check_same_thread=False)
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open the database for reading: {exc}") from exc
        conn.execute("PRAGMA busy_timeout=5000")
        return conn

    def _release(self, conn: sqlite3.Connection) -> None:
        with self._lock:
            if self._open:
                self._idle.put(conn)
                return
        conn.close()  # the pool closed while this read ran
