"""One writer per store file, across processes: an exclusive lock beside the database.

The kernel drops an ``flock`` when its holder exits, even by ``kill -9``, so a crashed agent
never leaves a stale lock behind. The file keeps the holder's pid, for the message.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from edge.errors import StoreError


class WriterLock:
    """Held by whoever writes the store: the agent, or a maintenance command while it is down."""

    def __init__(self, db_path: Path) -> None:
        self.path = db_path.with_name(db_path.name + ".lock")
        self._fd: int | None = None

    def acquire(self) -> None:
        """Take the lock or raise StoreError naming the process that holds it."""
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 32).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise StoreError(
                f"store {self.path.with_suffix('')} is in use by process {holder}"
                " (a running agent?): stop it first"
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd

    def release(self) -> None:
        """Let another writer in."""
        if self._fd is not None:
            os.close(self._fd)  # closing the descriptor releases the flock
            self._fd = None
