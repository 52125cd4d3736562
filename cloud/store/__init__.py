"""Storage of the twin behind one interface (base.Store); SQLite is the embedded default."""

from cloud.store.base import EntityQuery, IngestOutcome, Page, Store
from cloud.store.sqlite import SqliteStore

__all__ = ["EntityQuery", "IngestOutcome", "Page", "SqliteStore", "Store"]
