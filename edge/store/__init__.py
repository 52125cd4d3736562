"""The gateway's SQLite store: outbox and dead letters, written by one thread."""

from edge.store.sqlite import OutboxRow, Store

__all__ = ["OutboxRow", "Store"]
