"""Storage of the twin behind one interface (base.Store), with two backends.

SQLite (sqlite.py) is the embedded default: one file, one process. PostgreSQL (postgres/) lets
several aggregator processes share one database. ``store_for`` picks by the database setting.
"""

from pathlib import Path

from cloud.settings import PostgresUrl
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
    "store_for",
]


def store_for(database: Path | PostgresUrl) -> Store:
    """The store the ``database`` setting names: a SQLite file, or a PostgreSQL database."""
    if isinstance(database, PostgresUrl):
        # Imported here so that a SQLite deployment never loads psycopg.
        from cloud.store.postgres import PostgresStore

        return PostgresStore(database.url)
    return SqliteStore(database)
