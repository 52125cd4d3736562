"""The gateway's SQLite store: readings ring, outbox and dead letters, written by one thread."""

from edge.store.sqlite import OutboxRow, ReadingRow, Recovery, Store

__all__ = ["OutboxRow", "ReadingRow", "Recovery", "Store"]
