"""Fixtures of the cloud tests: the real aggregator over HTTP, on a tmp SQLite file."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.cloud import CloudServer

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
