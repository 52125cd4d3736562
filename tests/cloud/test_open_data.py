"""Open data: the pure privacy rules, then /open/v1 on a seeded city that requires auth.

The server requires credentials everywhere else (``secure=True``): every open request here
goes without one, so each answer also shows the route is public.
"""

from __future__ import annotations

import itertools
import json
import random
import statistics
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from cloud import kpis, open_data
from cloud.kpis import Bathing, Observation, SensorInput
from cloud.open_data import Privacy, Releases
from cloud.twin import Entity, MetricState
from shared.wire.uplink import Record
from tests.support import batches as b
from tests.support.city import write_city
from tests.support.cloud import CloudServer, ingest

NOW = 1_750_000_000.0
OPEN = ("/open/v1/districts", "/open/v1/kpis", "/open/v1/bathing-water", "/open/v1/people")
PRIVACY = Privacy(epsilon=1.0, min_sensors=3, window_s=900.0)


# The pure rules --------------------------------------------------------------------------


@pytest.mark.parametrize(("sensitivity", "epsilon"), [(3, 1.0), (10, 1.0), (4, 0.5), (4, 2.0)])
def test_the_noise_is_laplace_of_scale_sensitivity_over_epsilon(
    sensitivity: int, epsilon: float
) -> None:
    rng = random.Random(20240611)  # a fixed seed: the same draws every run
    true_count, draws = 5000, 20_000
    scale = sensitivity / epsilon

    noisy = [open_data.noisy_count(true_count, sensitivity, epsilon, rng) for _ in range(draws)]

    # Unbiased: the mean comes to the true count, within 5 standard errors (sqrt(2) b / sqrt(n)).
    standard_error = 2**0.5 * scale / draws**0.5
    assert statistics.fmean(noisy) == pytest.approx(true_count, abs=5 * standard_error)
    # Laplace(b): mean absolute deviation b, standard deviation sqrt(2) b (rounding to whole
    # people adds 1/12 to the variance, which the 5% tolerance covers).
    deviation = statistics.fmean(abs(n - true_count) for n in noisy)
    assert deviation == pytest.approx(scale, rel=0.05)
    assert statistics.pstdev(noisy) == pytest.approx(2**0.5 * scale, rel=0.05)


def test_noisy_counts_are_whole_and_never_negative() -> None:
    rng = random.Random(7)

    noisy = [open_data.noisy_count(0, 10, 0.5, rng) for _ in range(2000)]

    assert all(isinstance(n, int) and n >= 0 for n in noisy)
    # Clamped at 0, not shifted: draws below 0 become 0, the others stay as they are.
    assert 0 in noisy
    assert max(noisy) > 0


def _counter(n: int, district: str | None, count: float | None, age_s: float = 60.0) -> Entity:
    status = {} if count is None else {"peopleCount": MetricState(count, NOW - age_s, "people")}
    return Entity(
        id=f"urn:ngsi-ld:CrowdFlowObserved:pc-{n}", type="CrowdFlowObserved",
        category="goods_and_equipment", name=None, sensor=f"pc-{n}", kind="people_counter",
        gateway="gw-01", district=district, location=None, attributes={}, relationships={},
        first_seen=NOW - 86_400, updated_at=NOW, status=status,
    )  # fmt: skip


@dataclass
class Asked:
    """An ``answer`` for open_data.people that adds no noise and records what it was asked."""

    calls: list[tuple[Any, float, int]]

    def __call__(self, key: Any, true_count: float, sensors: int) -> int:
        self.calls.append((key, true_count, sensors))
        return round(true_count)


def test_a_district_sums_its_fresh_counters_and_withholds_below_k() -> None:
    districts = [kpis.District("d-big", "Big"), kpis.District("d-small", "Small")]
    counters = [
        _counter(1, "d-big", 10.0),
        _counter(2, "d-big", 20.0),
        _counter(3, "d-big", 30.0),
        _counter(4, "d-big", 40.0),
        _counter(5, "d-big", 99.0, age_s=3600.0),  # outside the window: not in the sum
        _counter(6, "d-big", None),  # never reported
        _counter(7, "d-small", 50.0),
        _counter(8, "d-small", 60.0),
        _counter(9, None, 70.0),  # in no district: counts nowhere
    ]
    asked = Asked([])

    found = open_data.people(districts, counters, NOW, PRIVACY, asked)

    big, small = found
    assert (big.district, big.name, big.sensors, big.count) == ("d-big", "Big", 4, 100)
    # Sensitivity is the number of counters in the sum: one person, once per counter.
    assert big.noise_scale == 4.0
    assert (small.sensors, small.count, small.noise_scale) == (2, None, None)
    # A withheld district's data is never even handed to the noise.
    assert [(sensors, total) for _, total, sensors in asked.calls] == [(4, 100.0)]


def test_the_noise_scale_follows_epsilon() -> None:
    counters = [_counter(n, "d", 5.0) for n in range(3)]
    strict = Privacy(epsilon=0.25, min_sensors=3, window_s=900.0)

    [found] = open_data.people([kpis.District("d", None)], counters, NOW, strict, Asked([]))

    assert found.noise_scale == 12.0


def test_a_release_is_keyed_by_the_readings_it_sums() -> None:
    district = [kpis.District("d", None)]
    asked = Asked([])
    counters = [_counter(n, "d", 5.0) for n in range(3)]

    open_data.people(district, counters, NOW, PRIVACY, asked)
    open_data.people(district, counters, NOW + 10, PRIVACY, asked)
    open_data.people(district, [*counters[:2], _counter(2, "d", 6.0)], NOW, PRIVACY, asked)

    first, again, changed = (key for key, _, _ in asked.calls)
    assert first == again  # the same data: the same release
    assert changed != first  # one counter reported anew: a new release


def test_releases_answer_the_same_data_with_the_same_noise() -> None:
    rng = random.Random(3)
    releases = Releases(capacity=2)
    drawn: list[int] = []

    def draw() -> int:
        drawn.append(open_data.noisy_count(1000, 5, 1.0, rng))
        return drawn[-1]

    answers = [releases.get("a", draw) for _ in range(50)]

    # Asking again does not average the noise away: one draw, fifty identical answers.
    assert answers == [drawn[0]] * 50
    releases.get("b", draw)
    releases.get("a", draw)  # a is the most recently used now
    releases.get("c", draw)  # over capacity: b, used longest ago, is dropped
    assert len(releases) == 2
    assert len(drawn) == 3
    releases.get("b", draw)
    assert len(drawn) == 4


def _water(
    entity: str, site: str, at: float, *, bathing: bool = True, **values: float
) -> SensorInput:
    now = {metric: Observation(value, at) for metric, value in values.items()}
    return SensorInput(entity, "water_quality", "d", now, site=site, bathing=bathing)


def _beach(site: str) -> Entity:
    return Entity(
        id=site, type="Beach", category="environment", name=site.title(), sensor=None, kind=None,
        gateway=None, district="d", location=None, attributes={}, relationships={},
        first_seen=NOW, updated_at=NOW, status={},
    )  # fmt: skip


def test_a_beach_takes_its_worst_fresh_sensor_and_its_newest_time() -> None:
    sites = [_beach("north"), _beach("south"), _beach("east")]
    sensors = [
        _water("wq-1", "north", NOW - 120, escherichiaColi=100.0),  # green
        _water("wq-2", "north", NOW - 600, enterococci=150.0),  # amber: the worse decides
        _water("wq-3", "south", NOW - 7200, escherichiaColi=9000.0),  # stale: not used
        _water("wq-4", "east", NOW - 60, bathing=False, escherichiaColi=9000.0),  # a river
        _water("wq-5", "ghost", NOW - 60, escherichiaColi=9000.0),  # no such beach
    ]

    found = open_data.beaches(sites, sensors, NOW, max_age_s=3600)

    assert [(b.id, b.name, b.district, b.status, b.observed_at) for b in found] == [
        ("north", "North", "d", Bathing.AMBER, NOW - 120),
        ("south", "South", "d", None, None),
        ("east", "East", "d", None, None),
    ]


# Over HTTP, on the simulator's city (seed 7, 100 sensors): its people counters are
#   district-05: sim-pc-0040, -0056, -0088, -0096   district-07: sim-pc-0008, -0016, -0080
#   district-08: sim-pc-0032, -0048 (2: withheld)   district-04, -06, -09: one each (withheld)
# and beach-1 (La Concha, district-09) is watched by sim-wq-0011, -0019 and -0067.


@dataclass
class City:
    """A secured aggregator on the seeded city, a client without credentials, the city file."""

    server: CloudServer
    http: httpx.Client
    data: dict[str, Any]
    token: str

    def features(self, type_: str) -> list[dict[str, Any]]:
        """The city file's features of ``type_``."""
        return [f for f in self.data["features"] if f["properties"]["type"] == type_]

    def counters(self) -> dict[str, list[str]]:
        """District URN -> the sensor ids of its people counters."""
        found: dict[str, list[str]] = {}
        for f in self.features("CrowdFlowObserved"):
            district = f["properties"]["relationships"]["locatedIn"]
            found.setdefault(district, []).append(f["properties"]["name"])
        return found

    def post(self, readings: list[tuple[str, str, str, float]], at: float) -> None:
        """Ingest one window of each (sensor, kind, metric, value), ending just before ``at``."""
        records: list[Record] = [
            b.summary(seq, sensor, kind=kind, metric=metric, start=at - 50, last_value=value)
            for seq, (sensor, kind, metric, value) in enumerate(readings, start=next(_seq))
        ]
        sent = ingest(self.http, b.body(records), token=self.token)
        assert sent.status_code == 200, sent.text


# Batches of a test module share one gateway: each takes fresh sequence numbers.
_seq = itertools.count(1, 1000)


@pytest.fixture(scope="module")
def city(tmp_path_factory: pytest.TempPathFactory, backend: object) -> Iterator[City]:
    root = tmp_path_factory.mktemp("open")
    data = write_city(root / "city.geojson", sensors=100)
    # A generous limit: these tests are about the answers (the limit has its own test).
    with (
        CloudServer(
            root / "c.db", secure=True, city=root / "city.geojson", open_burst=100_000
        ) as server,
        httpx.Client(base_url=server.url, timeout=10) as http,
    ):
        yield City(server, http, data, server.enroll("gw-01"))


def _open(city: City, path: str) -> dict[str, Any]:
    response = city.http.get(path)  # no Authorization header: the open API needs none
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_the_districts_are_listed_with_their_names(city: City) -> None:
    body = _open(city, "/open/v1/districts")

    expected = {f["id"]: f["properties"]["name"] for f in city.features("District")}
    assert {d["id"]: d["name"] for d in body["districts"]} == expected
    assert len(expected) == 9


def test_open_kpis_are_the_operators_kpis_without_per_sensor_figures(city: City) -> None:
    at = time.time()
    city.post(
        [
            ("sim-aq-0033", "air_quality", "pm25", 30.0),
            ("sim-nl-0012", "noise", "LAeq", 60.0),
            ("sim-em-0005", "energy_meter", "activePower", 100.0),
        ],
        at - 30,
    )

    public = _open(city, "/open/v1/kpis")
    internal = city.http.get("/api/v1/kpis", headers=city.server.auth()).json()

    assert public["max_age_s"] == internal["max_age_s"] == 3600
    assert [d["district"] for d in public["districts"]] == [
        d["district"] for d in internal["districts"]
    ]
    for mine, theirs in zip(
        [public["city"], *public["districts"]],
        [internal["city"], *internal["districts"]],
        strict=True,
    ):
        assert mine == _project(theirs, mine)
    assert public["city"]["air_quality"]["level"] is not None
    # What singles out one sensor is gone: the worst station, the loudest, each site's values.
    assert "worst_station_level" not in public["city"]["air_quality"]
    assert "max_db" not in public["city"]["noise"]
    assert "sites" not in public["city"]["bathing_water"]


def _project(full: dict[str, Any], shape: dict[str, Any]) -> dict[str, Any]:
    """``full`` cut down to the keys of ``shape``, at every level."""
    return {
        key: _project(full[key], value) if isinstance(value, dict) else full[key]
        for key, value in shape.items()
    }


def test_bathing_water_gives_each_beach_its_status(city: City) -> None:
    at = time.time() - 20
    city.post(
        [
            ("sim-wq-0011", "water_quality", "escherichiaColi", 300.0),  # amber
            ("sim-wq-0019", "water_quality", "enterococci", 50.0),  # green
            ("sim-wq-0051", "water_quality", "escherichiaColi", 9000.0),  # the river
        ],
        at,
    )

    body = _open(city, "/open/v1/bathing-water")

    beaches = {beach["id"]: beach for beach in body["beaches"]}
    assert set(beaches) == {f["id"] for f in city.features("Beach")}
    assert beaches["urn:ngsi-ld:Beach:beach-1"] == {
        "id": "urn:ngsi-ld:Beach:beach-1",
        "name": "La Concha",
        "district": "urn:ngsi-ld:District:district-09",
        "status": "amber",
        "observed_at": pytest.approx(at),
    }
    assert beaches["urn:ngsi-ld:Beach:beach-3"]["status"] is None  # no fresh values


def test_people_counts_are_noisy_sums_per_district_and_small_ones_are_withheld(
    city: City,
) -> None:
    counters = city.counters()
    big, medium = "urn:ngsi-ld:District:district-05", "urn:ngsi-ld:District:district-07"
    assert (len(counters[big]), len(counters[medium])) == (4, 3)
    per_counter = 250.0
    city.post(
        [(s, "people_counter", "peopleCount", per_counter) for ss in counters.values() for s in ss],
        time.time() - 30,
    )

    bodies = [_open(city, "/open/v1/people") for _ in range(20)]

    body = bodies[0]
    assert (body["epsilon"], body["min_sensors"], body["window_s"]) == (1.0, 3, 900.0)
    found = {d["district"]: d for d in body["districts"]}
    assert set(found) == {f["id"] for f in city.features("District")}
    for district, ids in counters.items():
        shown = found[district]
        assert shown["sensors"] == len(ids)
        if len(ids) < 3:
            assert (shown["count"], shown["noise_scale"]) == (None, None)
            continue
        scale = len(ids) / 1.0
        assert shown["noise_scale"] == scale
        # Within 20 scales of the truth: a Laplace draw lands outside once in 10^9.
        assert abs(shown["count"] - per_counter * len(ids)) <= 20 * scale
    # The same data is answered with the same noise: asking again cannot average it away.
    assert all(other["districts"] == body["districts"] for other in bodies[1:])


def test_no_sensor_id_appears_in_any_open_answer(city: City) -> None:
    sensors = [
        f["properties"]["name"]
        for f in city.data["features"]
        if f["properties"].get("name", "").startswith("sim-")
    ]
    assert len(sensors) == 100
    city.post(
        [(s, "people_counter", "peopleCount", 10.0) for ss in city.counters().values() for s in ss],
        time.time() - 30,
    )

    for path in OPEN:
        text = json.dumps(_open(city, path))
        assert not [s for s in sensors if s in text], path


def test_the_document_lists_the_open_routes_without_security(city: City) -> None:
    spec = city.http.get("/openapi.json").json()

    for path in OPEN:
        operation = spec["paths"][path]["get"]
        assert "security" not in operation
        assert set(operation["responses"]) >= {"200", "429"}


def test_past_the_burst_a_client_gets_429_with_retry_after(tmp_path: Path) -> None:
    write_city(tmp_path / "city.geojson", sensors=10)
    # The default burst, refilled slowly enough that no token comes back during the test.
    with (
        CloudServer(
            tmp_path / "c.db",
            secure=True,
            city=tmp_path / "city.geojson",
            open_requests_per_minute=0.5,
            open_burst=60,
        ) as server,
        httpx.Client(base_url=server.url, timeout=10) as http,
        httpx.Client(
            base_url=server.url,
            timeout=10,
            transport=httpx.HTTPTransport(local_address="127.0.0.2"),
        ) as other,
    ):
        statuses = [http.get("/open/v1/districts").status_code for _ in range(60)]
        refused = http.get("/open/v1/kpis")

        assert statuses == [200] * 60
        assert refused.status_code == 429
        assert 1 <= int(refused.headers["Retry-After"]) <= 120
        assert "too many requests" in refused.json()["detail"]
        # Another client has its own bucket; the rest of the API is not limited.
        assert other.get("/open/v1/districts").status_code == 200
        assert http.get("/healthz").status_code == 200
