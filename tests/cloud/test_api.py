"""The HTTP surface: health, the documented paths, and how storage faults reach clients."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from citytwin import __version__
from cloud.errors import StoreBusy, StoreError
from cloud.settings import CloudSettings
from cloud.store import IngestOutcome, SqliteStore, Store
from shared.wire.uplink import Batch
from tests.support import batches as b
from tests.support.cloud import CloudServer, ingest


def test_healthz(client: httpx.Client) -> None:
    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok", "version": __version__}


def test_the_openapi_document_describes_the_models(client: httpx.Client) -> None:
    # Which routes exist and the auth of each: tests/cloud/test_roles.py.
    spec = client.get("/openapi.json").json()

    assert set(spec["components"]["schemas"]) >= {
        "IngestResult",
        "EntityPage",
        "EntityPublic",
        "EntityDetail",
        "HistoryPublic",
        "IncidentPage",
        "IncidentPublic",
        "ActionCreate",
        "GatewayPage",
        "GatewayPublic",
        "Health",
        "KeyCreate",
        "KeyCreated",
        "KeyPage",
        "GatewayRegister",
        "EnrollmentCode",
        "EnrollCreate",
        "EnrollResult",
    }


class FailingStore(SqliteStore):
    """A real store whose writes are refused and whose health check fails (fault injection)."""

    async def ingest(self, batch: Batch, received_at: float) -> IngestOutcome:
        raise StoreBusy("the store is busy; retry shortly")

    async def check(self) -> None:
        raise StoreError("read failed: disk I/O error")


@pytest.fixture
def failing(tmp_path: Path) -> Iterator[httpx.Client]:
    def factory(settings: CloudSettings) -> Store:
        return FailingStore(settings.database)

    with (
        CloudServer(tmp_path / "c.db", store_factory=factory) as server,
        httpx.Client(base_url=server.url) as http,
    ):
        yield http


@pytest.mark.sqlite_only("injects the fault through a SqliteStore subclass")
def test_a_busy_store_asks_the_gateway_to_retry(failing: httpx.Client) -> None:
    response = ingest(failing, b.body([b.summary(1)]))

    assert response.status_code == 503
    assert response.headers["Retry-After"] == "1"
    assert response.json() == {"detail": "the store is busy; retry shortly"}


@pytest.mark.sqlite_only("injects the fault through a SqliteStore subclass")
def test_health_fails_when_the_store_cannot_read(failing: httpx.Client) -> None:
    response = failing.get("/healthz")

    assert response.status_code == 503
    assert response.json() == {"detail": "read failed: disk I/O error"}
