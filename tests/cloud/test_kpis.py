"""District KPIs: the pure rules over their published tables, and the endpoints on a seeded twin."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from cloud import kpis
from cloud.kpis import Bathing, Observation, SensorInput
from tests.support import batches as b
from tests.support.city import write_city
from tests.support.cloud import CloudServer, ingest

NOW = 1_750_000_000.0


def _edges() -> Iterator[Any]:
    for pollutant, bounds in kpis.EAQI_BANDS.items():
        for band, bound in enumerate(bounds, start=1):
            yield pytest.param(pollutant, bound, band, id=f"{pollutant} {bound} on the bound")
            yield pytest.param(pollutant, bound + 0.1, band + 1, id=f"{pollutant} above {bound}")


@pytest.mark.parametrize(("pollutant", "value", "level"), list(_edges()))
def test_a_concentration_on_a_band_edge_belongs_to_the_better_band(
    pollutant: str, value: float, level: int
) -> None:
    assert kpis.eaqi_level(pollutant, value) == level


@pytest.mark.parametrize("pollutant", kpis.POLLUTANTS)
def test_the_index_runs_from_good_to_extremely_poor(pollutant: str) -> None:
    assert kpis.eaqi_level(pollutant, 0.0) == 1
    assert kpis.eaqi_level(pollutant, 5000.0) == len(kpis.EAQI_LEVELS) == 6


def test_a_station_is_as_bad_as_its_worst_pollutant() -> None:
    assert kpis.station_level({"pm25": 8.0, "no2": 100.0, "o3": 20.0}) == (3, "no2")
    # On a tie the table's order names the pollutant, whatever order the values came in.
    assert kpis.station_level({"o3": 60.0, "pm10": 30.0}) == (2, "pm10")
    assert kpis.station_level({"co": 3.0}) is None


@pytest.mark.parametrize(
    ("speed", "free_flow", "index"),
    [(0.0, 50.0, 1.0), (25.0, 50.0, 0.5), (50.0, 50.0, 0.0), (70.0, 50.0, 0.0)],
    ids=["standstill", "half speed", "free flow", "faster than free flow"],
)
def test_congestion_is_the_speed_lost_against_free_flow(
    speed: float, free_flow: float, index: float
) -> None:
    assert kpis.congestion_index(speed, free_flow) == index


@pytest.mark.parametrize(
    ("e_coli", "enterococci", "inland", "status"),
    [
        (250.0, 100.0, False, Bathing.GREEN),
        (251.0, 100.0, False, Bathing.AMBER),
        (250.0, 101.0, False, Bathing.AMBER),
        (500.0, 200.0, False, Bathing.AMBER),
        (501.0, 10.0, False, Bathing.RED),
        (10.0, 201.0, False, Bathing.RED),
        (500.0, 200.0, True, Bathing.GREEN),
        (1000.0, 400.0, True, Bathing.AMBER),
        (1001.0, None, True, Bathing.RED),
        (None, None, False, Bathing.GREEN),
    ],
)
def test_bathing_water_follows_the_directive_bounds(
    e_coli: float | None, enterococci: float | None, inland: bool, status: Bathing
) -> None:
    assert kpis.bathing_status(e_coli, enterococci, inland=inland) is status


def test_noise_levels_are_averaged_on_energy() -> None:
    assert kpis.energetic_mean([60.0, 60.0]) == pytest.approx(60.0)
    # Twice the energy is 3 dB more; 60 and 70 dB average to 67.4, not 65.
    assert kpis.energetic_mean([60.0, 70.0]) == pytest.approx(67.40, abs=0.01)


def _aq(entity: str, age_s: float, **values: float) -> SensorInput:
    now = {m: Observation(v, NOW - age_s) for m, v in values.items()}
    return SensorInput(entity, "air_quality", "d1", now)


def test_stale_values_are_counted_not_used() -> None:
    sensors = [
        _aq("fresh-1", 60, pm25=12.0),
        _aq("fresh-2", 60, pm25=14.0),
        _aq("fresh-3", 60, pm25=400.0),  # a broken sensor: the median ignores it
        _aq("dead", 7200, pm25=600.0),
        SensorInput("silent", "air_quality", "d1", {}),
    ]

    air = kpis.compute(sensors, NOW, max_age_s=3600).air_quality

    assert (air.level, air.pollutant, air.label) == (2, "pm25", "fair")
    assert air.concentrations == {"pm25": 14.0}
    assert air.worst_station_level == 6
    assert (air.coverage.sensors, air.coverage.stale) == (3, 2)


def test_trends_come_from_the_values_an_hour_before() -> None:
    earlier = {"LAeq": Observation(50.0, NOW - 3700)}
    sensor = SensorInput(
        "nl", "noise", "d1", {"LAeq": Observation(62.0, NOW - 10)}, earlier=earlier
    )

    noise = kpis.compute([sensor], NOW, max_age_s=600).noise

    assert (noise.laeq_db, noise.previous_laeq_db) == (pytest.approx(62.0), pytest.approx(50.0))


def test_a_water_sensor_on_a_river_is_no_bathing_site() -> None:
    def wq(entity: str, site: str, e_coli: float, *, bathing: bool) -> SensorInput:
        now = {"escherichiaColi": Observation(e_coli, NOW)}
        return SensorInput(entity, "water_quality", "d1", now, site=site, bathing=bathing)

    sensors = [
        wq("wq-1", "beach-1", 100.0, bathing=True),
        wq("wq-2", "beach-1", 300.0, bathing=True),
        wq("wq-3", "river", 5000.0, bathing=False),
    ]

    water = kpis.compute(sensors, NOW, max_age_s=600).bathing_water

    assert water.status is Bathing.AMBER
    assert [(s.id, s.status) for s in water.sites] == [("beach-1", Bathing.AMBER)]
    assert water.coverage.sensors == 2


# Over HTTP, on the simulator's city (seed 7, 40 sensors):
#   district-03: traffic sim-tf-0002 (road-020), -0010 (road-041), -0018, -0034; noise -0012;
#                air sim-aq-0033
#   district-09: water sim-wq-0011 and -0019 on beach-1
#   district-02: energy sim-em-0005, -0021, -0037
#   district-01: air sim-aq-0001


@pytest.fixture
def city(tmp_path: Path) -> Iterator[tuple[httpx.Client, dict[str, Any]]]:
    """A seeded aggregator and its city file."""
    data = write_city(tmp_path / "city.geojson", sensors=40)
    with (
        CloudServer(tmp_path / "c.db", city=tmp_path / "city.geojson") as server,
        httpx.Client(base_url=server.url) as http,
    ):
        yield http, data


def _speed_limit(data: dict[str, Any], road: str) -> float:
    [feature] = [f for f in data["features"] if f["id"] == f"urn:ngsi-ld:RoadSegment:{road}"]
    limit: float = feature["properties"]["attributes"]["speedLimit"]
    return limit


def _reading(seq: int, sensor: str, kind: str, metric: str, value: float, at: float) -> Any:
    return b.summary(seq, sensor, kind=kind, metric=metric, start=at - 50, last_value=value)


def _post(http: httpx.Client, data: dict[str, Any]) -> float:
    now = time.time()
    readings = [
        ("sim-tf-0002", "traffic_flow", "averageVehicleSpeed", _speed_limit(data, "road-020") / 2),
        ("sim-tf-0010", "traffic_flow", "averageVehicleSpeed", _speed_limit(data, "road-041")),
        ("sim-nl-0012", "noise", "LAeq", 60.0),
        ("sim-aq-0033", "air_quality", "pm25", 30.0),
        ("sim-aq-0033", "air_quality", "no2", 20.0),
        ("sim-wq-0011", "water_quality", "escherichiaColi", 300.0),
        ("sim-wq-0019", "water_quality", "enterococci", 50.0),
        ("sim-em-0005", "energy_meter", "activePower", 100.0),
        ("sim-em-0021", "energy_meter", "activePower", -30.0),
    ]
    records = [_reading(i, *r, at=now - 30) for i, r in enumerate(readings, start=1)]
    records.append(_reading(50, "sim-aq-0001", "air_quality", "pm25", 90.0, at=now - 7200))
    records.append(_reading(51, "sim-nl-0012", "noise", "LAeq", 50.0, at=now - 3650))
    response = ingest(http, b.body(records))
    assert response.status_code == 200, response.text
    return now


def test_district_kpis_come_from_the_live_twin(
    city: tuple[httpx.Client, dict[str, Any]],
) -> None:
    http, data = city
    posted = _post(http, data)

    response = http.get("/api/v1/kpis")

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["at"] >= posted
    districts = {d["district"].rsplit(":", 1)[1]: d for d in body["districts"]}
    assert len(districts) == 9
    d3 = districts["district-03"]
    assert d3["congestion"]["index"] == pytest.approx(0.25)
    assert d3["congestion"]["coverage"] == {"sensors": 2, "stale": 2}
    assert d3["air_quality"] | {"coverage": None} == {
        "level": 4, "label": "poor", "pollutant": "pm25",
        "concentrations": {"pm25": 30.0, "no2": 20.0}, "worst_station_level": 4,
        "previous_level": None, "coverage": None,
    }  # fmt: skip
    assert d3["noise"]["laeq_db"] == pytest.approx(60.0)
    assert d3["noise"]["previous_laeq_db"] == pytest.approx(50.0)
    d9 = districts["district-09"]["bathing_water"]
    assert d9["status"] == "amber"
    assert [(s["id"], s["status"]) for s in d9["sites"]] == [("urn:ngsi-ld:Beach:beach-1", "amber")]
    assert districts["district-02"]["energy"]["load_kw"] == pytest.approx(70.0)
    assert districts["district-02"]["energy"]["coverage"] == {"sensors": 2, "stale": 1}
    d1 = districts["district-01"]["air_quality"]
    assert (d1["level"], d1["coverage"]["stale"]) == (None, 1)
    assert body["city"]["district"] is None
    assert body["city"]["air_quality"]["level"] == 4
    assert body["city"]["energy"]["load_kw"] == pytest.approx(70.0)


def test_one_district_by_its_local_id(city: tuple[httpx.Client, dict[str, Any]]) -> None:
    http, data = city
    _post(http, data)

    one = http.get("/api/v1/districts/district-03/kpis")
    listed = http.get("/api/v1/kpis").json()["districts"]

    assert one.status_code == 200, one.text
    kpis_ = one.json()["kpis"]
    assert kpis_["district"] == "urn:ngsi-ld:District:district-03"
    assert kpis_["name"]
    [same] = [d for d in listed if d["district"] == kpis_["district"]]
    assert kpis_ == same


def test_an_unknown_district_is_404(city: tuple[httpx.Client, dict[str, Any]]) -> None:
    http, _ = city

    response = http.get("/api/v1/districts/district-99/kpis")

    assert response.status_code == 404
    assert "district-99" in response.json()["detail"]


def test_max_age_decides_what_is_stale(city: tuple[httpx.Client, dict[str, Any]]) -> None:
    http, data = city
    _post(http, data)

    wide = http.get("/api/v1/districts/district-01/kpis", params={"max_age": 86_400})
    too_small = http.get("/api/v1/kpis", params={"max_age": 1})

    assert wide.json()["kpis"]["air_quality"]["level"] == 6  # 90 ug/m3 two hours ago
    assert too_small.status_code == 422


def test_kpis_without_a_city_cover_the_sensors_that_report(client: httpx.Client) -> None:
    at = time.time() - 20
    response = ingest(client, b.body([_reading(1, "aq-9", "air_quality", "o3", 120.0, at)]))
    assert response.status_code == 200

    body = client.get("/api/v1/kpis").json()

    assert body["districts"] == []
    assert body["city"]["air_quality"]["level"] == 3
