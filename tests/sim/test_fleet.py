"""The fleet: deterministic, cycling through every kind, scattered around the city."""

from __future__ import annotations

import dataclasses
import math

import pytest

from firmware_sim.errors import SimConfigError
from firmware_sim.fleet import DEFAULT_CITY, KIND_CODES, City, make_fleet, make_sensor
from shared.catalogue import KINDS
from shared.reading import SENSOR_ID


def test_same_seed_gives_the_same_fleet() -> None:
    assert make_fleet(42, 50, "x") == make_fleet(42, 50, "x")


def test_another_seed_gives_another_fleet() -> None:
    one, other = make_fleet(1, 20), make_fleet(2, 20)
    assert [s.id for s in one] == [s.id for s in other]
    assert [(s.lat, s.lon) for s in one] != [(s.lat, s.lon) for s in other]


def test_a_larger_fleet_starts_with_the_smaller_one() -> None:
    assert make_fleet(3, 100)[:10] == make_fleet(3, 10)
    assert make_fleet(3, 100)[41] == make_sensor(3, 42, "sim")


def test_ids_name_prefix_kind_and_number() -> None:
    fleet = make_fleet(0, 10, "north")
    assert [s.id for s in fleet[:3]] == ["north-aq-0001", "north-tf-0002", "north-wq-0003"]
    assert all(SENSOR_ID.fullmatch(s.id) for s in fleet)
    assert len({s.id for s in fleet}) == 10


def test_kinds_cycle_through_the_whole_catalogue() -> None:
    fleet = make_fleet(0, 2 * len(KINDS))
    assert [s.kind for s in fleet] == list(KINDS) * 2
    assert set(KIND_CODES) == set(KINDS)
    assert len(set(KIND_CODES.values())) == len(KIND_CODES)


def _distance_km(city: City, lat: float, lon: float) -> float:
    north = (lat - city.lat) * 111.32
    east = (lon - city.lon) * 111.32 * math.cos(math.radians(city.lat))
    return math.hypot(north, east)


@pytest.mark.parametrize("city", [DEFAULT_CITY, City("Oulu", 65.0121, 25.4651, 2.0, 8.0)])
def test_sensors_stand_within_the_city(city: City) -> None:
    fleet = make_fleet(5, 500, city=city)
    distances = [_distance_km(city, s.lat, s.lon) for s in fleet]
    assert max(distances) <= city.radius_km + 0.01
    # Uniform over the disc: about a quarter of the sensors within half the radius.
    inner = sum(d < city.radius_km / 2 for d in distances) / len(distances)
    assert 0.15 < inner < 0.35
    assert all(s.utc_offset_h == city.utc_offset_h for s in fleet)


def test_quirks_are_bounded_and_differ() -> None:
    fleet = make_fleet(9, 300)
    assert all(-2.5 <= s.offset <= 2.5 and -0.5 <= s.phase_h <= 0.5 for s in fleet)
    assert len({s.offset for s in fleet}) > 250


def test_sensors_are_frozen() -> None:
    sensor = make_fleet(0, 1)[0]
    with pytest.raises(dataclasses.FrozenInstanceError):
        sensor.lat = 0.0  # type: ignore[misc]


def test_an_empty_fleet_is_allowed() -> None:
    assert make_fleet(0, 0) == ()


@pytest.mark.parametrize(
    ("seed", "count", "prefix", "field"),
    [
        (-1, 5, "sim", "seed"),
        (0, -5, "sim", "sensors"),
        (0, 5, "has space", "prefix"),
        (0, 5, "", "prefix"),
        (0, 5, "x" * 60, "prefix"),
    ],
)
def test_impossible_fleets_are_refused(seed: int, count: int, prefix: str, field: str) -> None:
    with pytest.raises(SimConfigError, match=field) as caught:
        make_fleet(seed, count, prefix)
    assert caught.value.field == field
