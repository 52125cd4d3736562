"""Entity queries: filters, paging and the live status of each entity."""

from __future__ import annotations

import httpx
import pytest

from tests.support import batches as b
from tests.support.cloud import ingest


@pytest.fixture
def city(client: httpx.Client) -> httpx.Client:
    """Three air-quality sensors on two gateways and a noise meter."""
    ingest(client, b.body([b.summary(1, "aq-1"), b.summary(2, "aq-2")], gateway="gw-01"))
    noise = b.summary(1, "nz-1", kind="noise", metric="LAeq", last_value=61.0)
    ingest(client, b.body([b.summary(2, "aq-3"), noise], gateway="gw-02"))
    return client


def ids(response: httpx.Response) -> list[str]:
    assert response.status_code == 200, response.text
    return [item["id"] for item in response.json()["items"]]


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({}, ["aq-1", "aq-2", "aq-3", "nz-1"]),
        ({"kind": "noise"}, ["nz-1"]),
        ({"type": "AirQualityObserved"}, ["aq-1", "aq-2", "aq-3"]),
        ({"gateway": "gw-02"}, ["aq-3", "nz-1"]),
        ({"gateway": "gw-02", "kind": "air_quality"}, ["aq-3"]),
        ({"kind": "parking"}, []),
    ],
)
def test_entities_are_filtered(
    city: httpx.Client, params: dict[str, str], expected: list[str]
) -> None:
    response = city.get("/api/v1/entities", params=params)

    assert [i.rsplit(":", 1)[1] for i in ids(response)] == expected
    assert response.json()["total"] == len(expected)


def test_entities_are_paged_with_the_total_of_all_pages(city: httpx.Client) -> None:
    response = city.get("/api/v1/entities", params={"limit": 2, "offset": 1})

    assert ids(response) == [
        "urn:ngsi-ld:AirQualityObserved:aq-2",
        "urn:ngsi-ld:AirQualityObserved:aq-3",
    ]
    assert response.json()["total"] == 4


def test_one_entity_by_id(city: httpx.Client) -> None:
    found = city.get("/api/v1/entities/urn:ngsi-ld:NoiseLevelObserved:nz-1").json()

    assert found["gateway"] == "gw-02"
    assert found["attributes"] == {}
    assert found["first_seen"] <= found["updated_at"]
    assert found["status"] == {"LAeq": {"value": 61.0, "observed_at": b.T0 + 50, "unit": "dB(A)"}}


def test_an_unknown_entity_is_404(client: httpx.Client) -> None:
    response = client.get("/api/v1/entities/urn:ngsi-ld:AirQualityObserved:nope")

    assert response.status_code == 404
    assert response.json() == {"detail": "no entity 'urn:ngsi-ld:AirQualityObserved:nope'"}


@pytest.mark.parametrize("params", [{"limit": 0}, {"limit": 1001}, {"offset": -1}])
def test_paging_out_of_range_is_422(client: httpx.Client, params: dict[str, int]) -> None:
    assert client.get("/api/v1/entities", params=params).status_code == 422
