"""Two aggregator processes on one PostgreSQL database behave as one service.

Each CloudServer is a whole aggregator (its own app, store, connection pool and credential
cache); the two share nothing but the database, as two replicas behind a load balancer do.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from cloud.authenticator import CACHE_S
from tests.support import batches as b
from tests.support.cloud import CloudServer, ingest, query, table_counts
from tests.support.postgres import Databases

pytestmark = pytest.mark.postgres_only

Pair = tuple[CloudServer, CloudServer]


def _pair(database: Any, **settings: Any) -> Iterator[Pair]:
    with CloudServer(database, **settings) as one, CloudServer(database, **settings) as two:
        yield one, two


@pytest.fixture
def pair(backend: Databases | None, tmp_path: Path) -> Iterator[Pair]:
    """Two aggregators on one fresh database, auth off."""
    assert backend is not None
    yield from _pair(backend.for_path(tmp_path / "shared"))


@pytest.fixture
def secured_pair(backend: Databases | None, tmp_path: Path) -> Iterator[Pair]:
    """Two aggregators on one fresh database, requiring auth (each its own admin key)."""
    assert backend is not None
    yield from _pair(backend.for_path(tmp_path / "shared"), secure=True)


def post(url: str, body: bytes) -> dict[str, Any]:
    with httpx.Client(base_url=url, timeout=30) as http:
        response = ingest(http, body)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


def test_the_same_batches_sent_to_both_at_once_are_stored_once(pair: Pair) -> None:
    # Every batch touches the same sensors and alerts on the same one: the processes contend
    # for the same records, entities, latest values, windows and incident.
    bodies = [
        b.body(
            [
                *(b.summary(n * 10 + i, f"aq-{i:04d}", start=b.T0 + 60 * n) for i in range(5)),
                b.alert(n * 10 + 9, "aq-0000", ts=b.T0 + 60 * n + 30),
            ]
        )
        for n in range(12)
    ]
    with ThreadPoolExecutor(8) as pool:
        sent = [[pool.submit(post, server.url, body) for server in pair] for body in bodies]
        results = [[future.result() for future in futures] for futures in sent]

    for one, two in results:
        assert (one["accepted"] + two["accepted"], one["duplicates"] + two["duplicates"]) == (6, 6)
    database = pair[0].settings.database
    counts = table_counts(database)
    assert (counts["records"], counts["alerts"], counts["entities"]) == (72, 12, 5)
    assert query(database, "SELECT count(*), sum(parts) FROM windows") == [(60, 60)]
    assert query(database, "SELECT count(*), sum(alerts) FROM incidents") == [(1, 12)]


def test_an_incident_acknowledged_on_one_is_acknowledged_on_the_other(pair: Pair) -> None:
    one, two = (httpx.Client(base_url=server.url, timeout=10) for server in pair)
    with one, two:
        assert ingest(one, b.body([b.alert(1)])).status_code == 200
        (incident,) = two.get("/api/v1/incidents").json()["items"]
        acked = one.post(f"/api/v1/incidents/{incident['id']}/acknowledge", json={"by": "ana"})
        seen = two.get(f"/api/v1/incidents/{incident['id']}").json()

    assert acked.status_code == 200
    assert seen["state"] == "acknowledged"
    assert [(e["actor"], e["action"]) for e in seen["events"]][-1] == ("ana", "acknowledged")


def test_two_acknowledgements_at_once_on_both_one_wins(pair: Pair) -> None:
    with httpx.Client(base_url=pair[0].url) as http:
        ingest(http, b.body([b.alert(1)]))
        (incident,) = http.get("/api/v1/incidents").json()["items"]

    def acknowledge(server: CloudServer, by: str) -> int:
        url = f"{server.url}/api/v1/incidents/{incident['id']}/acknowledge"
        return httpx.post(url, json={"by": by}, timeout=10).status_code

    with ThreadPoolExecutor(2) as pool:
        codes = sorted(pool.map(acknowledge, pair, ["ana", "ben"]))

    assert codes == [200, 409]
    events = query(pair[0].settings.database, "SELECT action FROM incident_events ORDER BY id")
    assert [action for (action,) in events] == ["opened", "acknowledged"]


def test_a_key_revoked_on_one_is_refused_by_the_other_within_the_cache_time(
    secured_pair: Pair,
) -> None:
    one, two = secured_pair
    key = one.create_key("viewer", name="kiosk")
    key_id = key.split("_")[1]
    assert httpx.get(f"{two.url}/api/v1/entities", headers=two.auth(key)).status_code == 200

    revoked = httpx.post(f"{one.url}/api/v1/keys/{key_id}/revoke", headers=one.auth())
    started = time.monotonic()
    while (
        status := httpx.get(f"{two.url}/api/v1/entities", headers=two.auth(key)).status_code
    ) == 200:
        assert time.monotonic() - started < CACHE_S + 2, "the other process still accepts the key"
        time.sleep(0.1)

    assert revoked.status_code == 200
    assert status == 401


def test_an_enrollment_code_exchanged_at_both_at_once_works_once(secured_pair: Pair) -> None:
    one = secured_pair[0]
    registered = httpx.post(
        f"{one.url}/api/v1/gateways", json={"gateway": "gw-07"}, headers=one.auth()
    )
    code = registered.json()["code"]

    def exchange(server: CloudServer) -> int:
        body = {"gateway": "gw-07", "code": code}
        return httpx.post(f"{server.url}/api/v1/enroll", json=body, timeout=10).status_code

    with ThreadPoolExecutor(2) as pool:
        codes = sorted(pool.map(exchange, secured_pair))

    assert codes == [200, 403]
    tokens = query(one.settings.database, "SELECT count(*) FROM gateway_tokens")
    assert tokens == [(1,)]
