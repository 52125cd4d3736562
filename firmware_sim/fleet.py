"""The fleet: which simulated sensors exist, where they stand, and how each one differs.

A fleet is a pure function of a seed. Sensor ``n`` draws its own attributes from a random
stream keyed by (seed, n) alone, so a larger fleet starts with the same sensors as a smaller
one and a sensor keeps its identity when the fleet grows.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final

import numpy as np

from firmware_sim import streams
from firmware_sim.errors import SimConfigError
from shared.catalogue import KINDS
from shared.reading import SENSOR_ID

# Short codes that make sensor ids readable at a glance ("sim-aq-0001").
KIND_CODES: Final = MappingProxyType(
    {
        "air_quality": "aq",
        "traffic_flow": "tf",
        "water_quality": "wq",
        "noise": "nl",
        "energy_meter": "em",
        "parking": "pk",
        "weather": "wx",
        "people_counter": "pc",
    }
)
_KM_PER_DEGREE: Final = 111.32
_MAX_OFFSET: Final = 2.5
_MAX_PHASE_H: Final = 0.5
# Stream tags keep the fleet's draws independent of the signal noise drawn for the same sensor.
FLEET_STREAM: Final = streams.FLEET
NOISE_STREAM: Final = streams.NOISE


@dataclass(frozen=True, slots=True)
class City:
    """Where the fleet stands: a centre, a radius and the local time that drives daily cycles."""

    name: str
    lat: float
    lon: float
    utc_offset_h: float
    radius_km: float


DEFAULT_CITY: Final = City("Santander", 43.4623, -3.8099, utc_offset_h=1.0, radius_km=3.0)


@dataclass(frozen=True, slots=True)
class SimSensor:
    """One simulated sensor: identity, kind, position and its individual quirks."""

    id: str
    kind: str
    number: int  # 1-based position in the fleet
    lat: float
    lon: float
    offset: float  # calibration bias in standard units; each metric scales it by its spread
    phase_h: float  # hours by which this sensor's daily cycle runs late (negative: early)
    utc_offset_h: float  # local time of its city, which drives the daily cycle
    seed: int  # the fleet seed: with ``number`` it keys this sensor's noise stream


def kind_of(number: int) -> str:
    """The kind of sensor ``number``: the fleet cycles through every catalogue kind in order."""
    kinds = tuple(KINDS)
    return kinds[(number - 1) % len(kinds)]


def sensor_id(prefix: str, kind: str, number: int) -> str:
    """The id of sensor ``number`` of ``kind`` in a fleet named ``prefix``."""
    return f"{prefix}-{KIND_CODES[kind]}-{number:04d}"


def make_sensor(seed: int, number: int, prefix: str, city: City = DEFAULT_CITY) -> SimSensor:
    """Sensor ``number`` (1-based) of fleet ``seed``: the same arguments, the same sensor."""
    rng = np.random.default_rng([seed, FLEET_STREAM, number])
    # Uniform over the disc: the square root keeps the outskirts as dense as the centre.
    radius = city.radius_km * math.sqrt(rng.random())
    angle = 2 * math.pi * rng.random()
    north_km, east_km = radius * math.sin(angle), radius * math.cos(angle)
    lat = city.lat + north_km / _KM_PER_DEGREE
    lon = city.lon + east_km / (_KM_PER_DEGREE * math.cos(math.radians(city.lat)))
    kind = kind_of(number)
    return SimSensor(
        id=sensor_id(prefix, kind, number),
        kind=kind,
        number=number,
        lat=round(lat, 6),
        lon=round(lon, 6),
        offset=round(float(np.clip(rng.normal(), -_MAX_OFFSET, _MAX_OFFSET)), 3),
        phase_h=round(float(rng.uniform(-_MAX_PHASE_H, _MAX_PHASE_H)), 3),
        utc_offset_h=city.utc_offset_h,
        seed=seed,
    )


def make_fleet(
    seed: int, count: int, prefix: str = "sim", city: City = DEFAULT_CITY
) -> tuple[SimSensor, ...]:
    """``count`` sensors numbered from 1, cycling through every kind; deterministic in ``seed``."""
    check_fleet(seed, count, prefix)
    return tuple(make_sensor(seed, number, prefix, city) for number in range(1, count + 1))


def check_fleet(seed: int, count: int, prefix: str) -> None:
    """Raise SimConfigError unless the arguments describe a possible fleet."""
    if seed < 0:
        raise SimConfigError(f"seed: {seed} is negative", field="seed")
    if count < 0:
        raise SimConfigError(f"sensors: {count} is negative", field="sensors")
    longest = sensor_id(prefix, "air_quality", max(count, 1))
    if not SENSOR_ID.fullmatch(longest):
        raise SimConfigError(
            f"prefix: {prefix!r} makes ids like {longest!r}, not a sensor id "
            "(1-64 of A-Z a-z 0-9 . _ -)",
            field="prefix",
        )
