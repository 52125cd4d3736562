"""Gateway status comes from heartbeat age, not from whether a socket is open."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from cloud.fleet import Status, status
from tests.support import batches as b
from tests.support.cloud import CloudServer, ingest


def gateways(http: httpx.Client) -> dict[str, dict[str, Any]]:
    page = http.get("/api/v1/gateways").json()
    assert page["total"] == len(page["items"])
    return {item["id"]: item for item in page["items"]}


def test_a_heartbeat_makes_the_gateway_online(client: httpx.Client) -> None:
    ingest(client, b.body([b.heartbeat(1, buffer_depth=42, oldest_unsent_age_s=1.5)]))

    gw = gateways(client)["gw-01"]

    assert gw["status"] == "ONLINE"
    assert (gw["buffer_depth"], gw["oldest_unsent_age_s"]) == (42, 1.5)
    assert 0 <= gw["heartbeat_age_s"] < 10
    assert gw["heartbeat"]["model_version"] == "aq-ae-3"
    assert gw["desired"] == {"config_version": 0, "model_version": None}


def test_a_gateway_that_never_sent_a_heartbeat_is_offline(client: httpx.Client) -> None:
    ingest(client, b.body([b.summary(1)]))

    gw = gateways(client)["gw-01"]

    assert (gw["status"], gw["heartbeat"], gw["buffer_depth"]) == ("OFFLINE", None, None)
    assert gw["last_seen"] is not None


def test_a_backfilled_heartbeat_does_not_replace_a_newer_one(client: httpx.Client) -> None:
    ingest(client, b.body([b.heartbeat(10, buffer_depth=0)]))

    ingest(client, b.body([b.heartbeat(3, buffer_depth=5000)]))

    assert gateways(client)["gw-01"]["buffer_depth"] == 0


def test_the_newest_heartbeat_of_a_batch_wins(client: httpx.Client) -> None:
    ingest(client, b.body([b.heartbeat(2, buffer_depth=7), b.heartbeat(1, buffer_depth=9)]))

    assert gateways(client)["gw-01"]["buffer_depth"] == 7


def test_a_silent_gateway_goes_stale(tmp_path: Path) -> None:
    with (
        CloudServer(tmp_path / "c.db", stale_after_s=0.2, offline_after_s=60) as server,
        httpx.Client(base_url=server.url) as http,
    ):
        ingest(http, b.body([b.heartbeat(1)]))
        assert gateways(http)["gw-01"]["status"] == "ONLINE"

        time.sleep(0.3)

        assert gateways(http)["gw-01"]["status"] == "STALE"


def test_gateways_are_listed_by_id_with_paging(client: httpx.Client) -> None:
    for gw in ("gw-03", "gw-01", "gw-02"):
        ingest(client, b.body([b.heartbeat(1)], gateway=gw))

    page = client.get("/api/v1/gateways", params={"limit": 2, "offset": 1}).json()

    assert ([item["id"] for item in page["items"]], page["total"]) == (["gw-02", "gw-03"], 3)


@pytest.mark.parametrize(
    ("age", "expected"),
    [
        (None, Status.OFFLINE),
        (0.0, Status.ONLINE),
        (89.9, Status.ONLINE),
        (90.0, Status.STALE),
        (299.9, Status.STALE),
        (300.0, Status.OFFLINE),
        (1e9, Status.OFFLINE),
    ],
)
def test_status_from_heartbeat_age(age: float | None, expected: Status) -> None:
    assert status(age, stale_after_s=90, offline_after_s=300) is expected
