"""The real cloud aggregator under uvicorn, on a free port, in a background thread.

It serves a SQLite file, or a PostgreSQL database when given a PostgresUrl or when the cloud
tests run on PostgreSQL (``use_postgres``: each path then stands for a fresh database).

By default it runs with auth off (dev mode), as the embedded demo does: the edge and end-to-end
tests send and read without credentials. ``secure=True`` requires auth and bootstraps an admin
key (``admin_key``), from which ``create_key`` and ``enroll`` issue the other credentials.
"""

from __future__ import annotations

import secrets
import socket
import sqlite3
import threading
import time
from contextlib import closing
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import httpx
import psycopg
import uvicorn

from cloud.app import StoreFactory, create_app
from cloud.settings import AuthMode, CloudSettings, PostgresUrl
from shared.wire.uplink import INGEST_PATH
from tests.support.postgres import Databases

TABLES = ("records", "windows", "alerts", "gaps", "gateways", "entities", "latest", "relationships")


# While the cloud tests run on PostgreSQL: the databases that stand for their SQLite paths.
_postgres: Databases | None = None


def use_postgres(databases: Databases | None) -> None:
    """Serve a database of ``databases`` for each path from now on (None: SQLite files again)."""
    global _postgres  # noqa: PLW0603  (set by one fixture, around a whole test module)
    _postgres = databases


def backend_of(database: Path | PostgresUrl) -> Path | PostgresUrl:
    """What the aggregator is given for ``database``: the path, or the database standing for it."""
    if isinstance(database, Path) and _postgres is not None:
        return _postgres.for_path(database)
    return database


class _Server(uvicorn.Server):
    """uvicorn's server, telling a waiting thread when start-up has finished (or failed)."""

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.settled = threading.Event()

    def run(self, sockets: list[socket.socket] | None = None) -> None:
        try:
            super().run(sockets)
        finally:
            self.settled.set()  # start-up failed or the server stopped: stop waiting

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        self.settled.set()


class CloudServer:
    """The aggregator serving a database, for tests and benchmarks; start() and stop()."""

    def __init__(
        self,
        database: Path | PostgresUrl,
        *,
        secure: bool = False,
        store_factory: StoreFactory | None = None,
        **settings: Any,
    ) -> None:
        self.admin_key = f"admin-{secrets.token_urlsafe(24)}"
        if secure:
            settings |= {"auth": AuthMode.REQUIRED, "admin_key": self.admin_key}
        settings.setdefault("auth", AuthMode.OFF)
        self.settings = CloudSettings(database=backend_of(database), port=0, **settings)
        self._store_factory = store_factory  # a test injecting a storage fault passes one
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._sock: socket.socket | None = None
        self.port = 0

    @property
    def url(self) -> str:
        """Base URL, e.g. http://127.0.0.1:41234."""
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 10.0) -> None:
        """Start serving and return once the app has finished starting up."""
        # proto=TCP, or asyncio leaves Nagle on and each response waits for a delayed ACK.
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.bind(("127.0.0.1", 0))  # the kernel picks the port: no race with other tests
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(
            create_app(self.settings, store_factory=self._store_factory),
            log_config=None,  # leave the test process's logging alone
            log_level="warning",
            access_log=False,
            lifespan="on",
            ws="none",
            timeout_graceful_shutdown=5,  # a test that leaves an event stream open still stops
        )
        self._sock, self._server = sock, _Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [sock]}, name="cloud-server", daemon=True
        )
        self._thread.start()
        self._wait_started(timeout)

    def stop(self, timeout: float = 10.0) -> None:
        """Shut down gracefully (the lifespan closes the store) and wait for the thread."""
        if self._server is None or self._thread is None:
            return
        self._server.should_exit = True
        self._thread.join(timeout)
        if self._thread.is_alive():
            raise TimeoutError(f"the cloud server did not stop within {timeout}s")
        if self._sock is not None:
            self._sock.close()
        self._server = self._thread = self._sock = None

    def create_key(self, role: str, *departments: str, name: str | None = None) -> str:
        """A new API key of ``role`` (an operator's for ``departments``), made by the admin."""
        body = {"name": name or role, "role": role, "departments": list(departments)}
        response = httpx.post(f"{self.url}/api/v1/keys", json=body, headers=self.auth())
        response.raise_for_status()
        key: str = response.json()["key"]
        return key

    def enroll(self, gateway: str) -> str:
        """Register ``gateway`` as the admin and exchange its code as the gateway: its token."""
        registered = httpx.post(
            f"{self.url}/api/v1/gateways", json={"gateway": gateway}, headers=self.auth()
        )
        registered.raise_for_status()
        code = registered.json()["code"]
        enrolled = httpx.post(f"{self.url}/api/v1/enroll", json={"gateway": gateway, "code": code})
        enrolled.raise_for_status()
        token: str = enrolled.json()["token"]
        return token

    def auth(self, key: str | None = None) -> dict[str, str]:
        """The Authorization header of ``key`` (default: the admin key)."""
        return {"Authorization": f"Bearer {key or self.admin_key}"}

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _wait_started(self, timeout: float) -> None:
        assert self._server is not None
        if not self._server.settled.wait(timeout):
            self.stop()
            raise TimeoutError(f"the cloud server did not start within {timeout}s")
        if not self._server.started:
            self.stop()
            raise RuntimeError("the cloud server failed to start (see the log)")


def ingest(
    http: httpx.Client, body: bytes, *, gzip: bool = True, token: str | None = None
) -> httpx.Response:
    """POST a batch body to the ingest endpoint, as a gateway does."""
    headers = {"Content-Type": "application/json"}
    if gzip:
        headers["Content-Encoding"] = "gzip"
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    return http.post(INGEST_PATH, content=body, headers=headers)


def table_counts(database: Path | PostgresUrl) -> dict[str, int]:
    """Rows per table of the aggregator's database, read directly."""
    return {t: query(database, f"SELECT count(*) FROM {t}")[0][0] for t in TABLES}


def query(database: Path | PostgresUrl, sql: str) -> list[tuple[Any, ...]]:
    """The rows of a plain SELECT, on the SQLite file or the PostgreSQL database, read directly."""
    database = backend_of(database)
    if isinstance(database, PostgresUrl):
        with psycopg.connect(database.url) as conn:
            return conn.execute(sql).fetchall()  # type: ignore[arg-type]
    with closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True)) as conn:
        return conn.execute(sql).fetchall()


def wait_healthy(url: str, timeout: float = 10.0) -> None:
    """Block until GET {url}/healthz answers 200 (a server started in another process)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            raise TimeoutError(f"{url} is not healthy after {timeout}s")
        time.sleep(0.05)
