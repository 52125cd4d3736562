"""Storage of the twin behind one interface (base.Store); SQLite is the embedded default."""

from cloud.store.base import Change, EntityQuery, IncidentQuery, IngestOutcome, Near, Page, Store
from cloud.store.sqlite import SqliteStore

__all__ = [
    "Change",
    "EntityQuery",
    "IncidentQuery",
    "IngestOutcome",
    "Near",
    "Page",
    "SqliteStore",
    "Store",
]
