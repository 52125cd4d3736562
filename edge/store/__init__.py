"""The gateway's SQLite store: message ring, outbox and dead letters, written by one thread."""

from edge.store.quota import Shed
from edge.store.sqlite import DeadLetter, MessageRow, OutboxRow, Recovery, Store

__all__ = ["DeadLetter", "MessageRow", "OutboxRow", "Recovery", "Shed", "Store"]
