"""The twin seeded from the simulator's city file: every category, queries by place and kind."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from cloud import geo
from tests.support import batches as b
from tests.support.city import write_city
from tests.support.cloud import CloudServer, ingest

AQ1 = "urn:ngsi-ld:AirQualityObserved:sim-aq-0001"


@pytest.fixture(scope="module")
def city_file(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    path = tmp_path_factory.mktemp("city") / "city.geojson"
    return path, write_city(path)


@pytest.fixture(scope="module")
def seeded(
    tmp_path_factory: pytest.TempPathFactory,
    city_file: tuple[Path, dict[str, Any]],
    backend: object,  # one server per storage backend (tests/cloud/conftest.py)
) -> Iterator[httpx.Client]:
    """One seeded aggregator for the read-only tests of this module."""
    database = tmp_path_factory.mktemp("twin") / "cloud.db"
    with (
        CloudServer(database, city=city_file[0]) as server,
        httpx.Client(base_url=server.url, timeout=10) as http,
    ):
        yield http


def features(city: tuple[Path, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {f["id"]: f for f in city[1]["features"]}


def page(http: httpx.Client, **params: Any) -> dict[str, Any]:
    response = http.get("/api/v1/entities", params={"limit": 1000, **params})
    assert response.status_code == 200, response.text
    found: dict[str, Any] = response.json()
    assert found["total"] == len(found["items"])
    return found


def test_every_entity_of_every_category_is_seeded(
    seeded: httpx.Client, city_file: tuple[Path, dict[str, Any]]
) -> None:
    expected = Counter(f["properties"]["category"] for f in city_file[1]["features"])

    found = {c: page(seeded, category=c)["total"] for c in expected}

    assert found == dict(expected)
    assert len(expected) == 6


def test_a_seeded_entity_has_location_attributes_and_relationships(
    seeded: httpx.Client, city_file: tuple[Path, dict[str, Any]]
) -> None:
    feature = features(city_file)["urn:ngsi-ld:RoadSegment:road-001"]

    found = seeded.get("/api/v1/entities/urn:ngsi-ld:RoadSegment:road-001").json()

    props = feature["properties"]
    assert (found["type"], found["category"], found["name"]) == (
        props["type"],
        props["category"],
        props["name"],
    )
    assert found["location"] == feature["geometry"]
    assert found["attributes"] == props["attributes"]
    assert found["relationships"] == props["relationships"]
    assert found["district"] == props["relationships"]["locatedIn"]
    assert (found["sensor"], found["kind"], found["gateway"]) == (None, None, None)


def test_one_entity_shows_who_points_at_it(seeded: httpx.Client) -> None:
    found = seeded.get("/api/v1/entities/urn:ngsi-ld:Department:dept-mobility").json()

    names = Counter(i["name"] for i in found["incoming"])
    assert set(names) == {"responsibleDepartment"}
    assert found["incoming_total"] == names["responsibleDepartment"]
    subjects = {i["subject"].split(":")[2] for i in found["incoming"]}
    assert {"RoadSegment", "TrafficFlowObserved"} <= subjects


@pytest.mark.parametrize(
    ("params", "check"),
    [
        ({"type": "Beach"}, lambda e: e["type"] == "Beach"),
        ({"category": "legal_persons"}, lambda e: e["type"] == "Department"),
        ({"district": "district-03"}, lambda e: e["district"].endswith(":district-03")),
        ({"kind": "air_quality"}, lambda e: e["id"].startswith("urn:ngsi-ld:AirQualityObs")),
        ({"type": "Streetlight", "district": "urn:ngsi-ld:District:district-05"},
         lambda e: e["type"] == "Streetlight" and e["district"].endswith("-05")),
    ],
    ids=["type", "category", "district", "kind", "type and district"],
)  # fmt: skip
def test_filters_match_the_file(
    seeded: httpx.Client,
    city_file: tuple[Path, dict[str, Any]],
    params: dict[str, str],
    check: Any,
) -> None:
    found = page(seeded, **params)["items"]

    assert found
    assert all(check(e) for e in found)
    assert [e["id"] for e in found] == sorted(e["id"] for e in found)


def test_bbox_finds_the_points_inside_it(
    seeded: httpx.Client, city_file: tuple[Path, dict[str, Any]]
) -> None:
    lights = [f for f in city_file[1]["features"] if f["properties"]["type"] == "Streetlight"]
    lons = sorted(f["geometry"]["coordinates"][0] for f in lights)
    lats = sorted(f["geometry"]["coordinates"][1] for f in lights)
    box = (lons[len(lons) // 4], lats[len(lats) // 4], lons[-len(lons) // 4], lats[-len(lats) // 4])

    found = page(seeded, type="Streetlight", bbox=",".join(map(str, box)))["items"]

    inside = {
        f["id"]
        for f in lights
        if box[0] <= f["geometry"]["coordinates"][0] <= box[2]
        and box[1] <= f["geometry"]["coordinates"][1] <= box[3]
    }
    assert {e["id"] for e in found} == inside
    assert 0 < len(inside) < len(lights)


def test_near_lists_entities_within_the_distance_nearest_first(
    seeded: httpx.Client, city_file: tuple[Path, dict[str, Any]]
) -> None:
    lon, lat = features(city_file)[AQ1]["geometry"]["coordinates"]

    found = page(seeded, near=f"{lon},{lat}", max_distance=400)["items"]

    distances = [e["distance_m"] for e in found]
    assert found[0]["id"] == AQ1
    assert distances == sorted(distances)
    assert distances[0] == 0.0
    assert max(distances) <= 400
    expected = {
        f["id"]
        for f in city_file[1]["features"]
        if f["geometry"] and geo.distance_m(lon, lat, f["geometry"]) <= 400
    }
    assert {e["id"] for e in found} == expected
    assert any(e["type"] == "District" for e in found)  # the point is inside its district


@pytest.mark.parametrize(
    ("params", "detail"),
    [
        ({"bbox": "1,2,3"}, "bbox: expected 4 comma-separated numbers"),
        ({"bbox": "3,2,1,4"}, "bbox: min must not exceed max"),
        ({"near": "1,2"}, "near needs max_distance"),
        ({"max_distance": 5}, "max_distance needs near"),
        ({"near": "200,2", "max_distance": 5}, "near: lon must be in -180..180"),
    ],
)
def test_unreadable_place_filters_are_422(
    seeded: httpx.Client, params: dict[str, Any], detail: str
) -> None:
    response = seeded.get("/api/v1/entities", params=params)

    assert response.status_code == 422
    assert detail in str(response.json()["detail"])


def test_a_sensor_live_before_seeding_keeps_its_status_and_gains_its_place(
    tmp_path: Path, city_file: tuple[Path, dict[str, Any]]
) -> None:
    with CloudServer(tmp_path / "c.db") as server, httpx.Client(base_url=server.url) as http:
        ingest(http, b.body([b.summary(1, "sim-aq-0001", last_value=33.0)], gateway="gw-09"))
        before = http.get(f"/api/v1/entities/{AQ1}").json()
    # Seeding at the next start-up, as `serve --city` does; then again, as a repeated seed.
    for _ in range(2):
        with (
            CloudServer(tmp_path / "c.db", city=city_file[0]) as server,
            httpx.Client(base_url=server.url) as http,
        ):
            after = http.get(f"/api/v1/entities/{AQ1}").json()

    feature = features(city_file)[AQ1]
    assert after["status"] == before["status"]
    assert after["status"]["pm25"]["value"] == 33.0
    assert (after["first_seen"], after["gateway"]) == (before["first_seen"], "gw-09")
    assert after["location"] == feature["geometry"]
    assert after["relationships"] == feature["properties"]["relationships"]


def test_a_sensor_seeded_first_takes_live_status_when_it_reports(
    tmp_path: Path, city_file: tuple[Path, dict[str, Any]]
) -> None:
    with (
        CloudServer(tmp_path / "c.db", city=city_file[0]) as server,
        httpx.Client(base_url=server.url) as http,
    ):
        ingest(http, b.body([b.summary(1, "sim-aq-0001", last_value=21.0)], gateway="gw-01"))

        found = http.get(f"/api/v1/entities/{AQ1}").json()

    assert found["status"]["pm25"]["value"] == 21.0
    assert found["location"] == features(city_file)[AQ1]["geometry"]
    assert found["kind"] == "air_quality"
