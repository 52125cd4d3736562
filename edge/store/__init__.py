"""The gateway's SQLite store: message ring, outbox and dead letters, written by one thread."""

from edge.store.sqlite import MessageRow, OutboxRow, Recovery, Store

__all__ = ["MessageRow", "OutboxRow", "Recovery", "Store"]
