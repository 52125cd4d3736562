"""Fixtures of the cloud tests: the real aggregator over HTTP, on a tmp SQLite file.

Every test of a module that starts the aggregator runs twice, on SQLite and on PostgreSQL
(``backend``): there each tmp SQLite path the test names stands for a fresh database
(tests/support/postgres.py). A test that only SQLite can run is marked ``sqlite_only``; one
about PostgreSQL alone (several processes on one database) ``postgres_only``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support import postgres
from tests.support.cloud import CloudServer, use_postgres

BACKENDS = ("sqlite", "postgres")
# The fixtures that start an aggregator; a module naming CloudServer starts its own.
_SERVERS = frozenset({"cloud_server", "secured_server", "client"})


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "sqlite_only(reason): a test that can run on the SQLite backend only"
    )
    config.addinivalue_line("markers", "postgres_only: a test of the PostgreSQL backend alone")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Both backends for tests that start the aggregator; SQLite alone for the rest."""
    serves = hasattr(metafunc.module, "CloudServer") or bool(_SERVERS & set(metafunc.fixturenames))
    marked = metafunc.definition.get_closest_marker
    if marked("postgres_only") is not None:
        backends = BACKENDS[1:]
    elif serves and marked("sqlite_only") is None:
        backends = BACKENDS
    else:
        backends = BACKENDS[:1]
    metafunc.parametrize("backend", backends, indirect=True, scope="module")


@pytest.fixture(scope="module", autouse=True)
def backend(request: pytest.FixtureRequest) -> Iterator[postgres.Databases | None]:
    """This module's PostgreSQL databases, or None on SQLite (skips without a server)."""
    if request.param == "sqlite":
        yield None
        return
    databases = postgres.Databases(postgres.require_server())
    use_postgres(databases)
    try:
        yield databases
    finally:
        use_postgres(None)
        databases.drop()


@pytest.fixture(autouse=True)
def _fresh_databases(backend: postgres.Databases | None) -> Iterator[None]:
    """On PostgreSQL, drop the databases a test made once it is over (a module's stay)."""
    if backend is None:
        yield
        return
    before = backend.paths
    yield
    backend.drop(keep=before)


TOKENS = {"gw-01": "token-of-gateway-01-x", "gw-02": "token-of-gateway-02-y"}


@pytest.fixture
def cloud_server(tmp_path: Path) -> Iterator[CloudServer]:
    """The aggregator in dev mode (auth off: requests without credentials may do anything)."""
    with CloudServer(tmp_path / "cloud.db") as server:
        yield server


@pytest.fixture
def secured_server(tmp_path: Path) -> Iterator[CloudServer]:
    """The aggregator requiring auth, with a configured token per gateway (see TOKENS)."""
    with CloudServer(tmp_path / "cloud.db", secure=True, gateway_tokens=TOKENS) as server:
        yield server


@pytest.fixture
def client(cloud_server: CloudServer) -> Iterator[httpx.Client]:
    """An HTTP client of ``cloud_server``."""
    with httpx.Client(base_url=cloud_server.url, timeout=10) as http:
        yield http
