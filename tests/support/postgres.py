"""Fresh PostgreSQL databases for tests, on the server named by CITYTWIN_TEST_POSTGRES.

The cloud tests run once per backend. On PostgreSQL each SQLite path a test names (a tmp
file) stands for a database of its own, created with a random name when first named and
dropped after the test, so a test that restarts the aggregator on "the same file" finds its
data again. Without the variable, or with a server that does not answer, those tests skip.
"""

from __future__ import annotations

import functools
import os
import secrets
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest
from psycopg import sql

from cloud.settings import PostgresUrl

ENV = "CITYTWIN_TEST_POSTGRES"
HOW = f"set {ENV}=postgresql://USER@HOST:PORT/postgres to run the PostgreSQL tests"


@functools.cache
def server() -> str | None:
    """The server's URL if it is set and answers now, else None (asked once per run)."""
    url = os.environ.get(ENV)
    if not url:
        return None
    try:
        psycopg.connect(url, connect_timeout=3).close()
    except psycopg.Error:
        return None
    return url


def require_server() -> str:
    """The server's URL, or skip the test with how to enable it."""
    url = server()
    if url is None:
        reason = f"{ENV} is not set" if not os.environ.get(ENV) else f"{ENV} does not answer"
        pytest.skip(f"{reason}: {HOW}")
    return url


class Databases:
    """Databases created on one server for the paths tests name, until dropped."""

    def __init__(self, url: str) -> None:
        self._url = url
        self._made: dict[Path, PostgresUrl] = {}

    def for_path(self, path: Path) -> PostgresUrl:
        """The database standing for ``path``: the same one each time, created the first."""
        if path not in self._made:
            self._made[path] = self.create()
        return self._made[path]

    def create(self) -> PostgresUrl:
        """A new empty database with a random name."""
        name = f"citytwin_test_{secrets.token_hex(6)}"
        with psycopg.connect(self._url, autocommit=True) as admin:
            admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        parts = urlsplit(self._url)
        return PostgresUrl(urlunsplit(parts._replace(path=f"/{name}")))

    @property
    def paths(self) -> frozenset[Path]:
        """The paths that have a database now."""
        return frozenset(self._made)

    def drop(self, keep: frozenset[Path] = frozenset()) -> None:
        """Drop every database made, but those of ``keep``."""
        gone = [path for path in self._made if path not in keep]
        with psycopg.connect(self._url, autocommit=True) as admin:
            for path in gone:
                drop_database(admin, self._made.pop(path))


def drop_database(admin: psycopg.Connection[tuple[object, ...]], database: PostgresUrl) -> None:
    """Drop ``database``, closing any connection a failed test left open to it."""
    name = urlsplit(database.url).path.strip("/")
    admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
