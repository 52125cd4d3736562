"""The generated city: a layout, its equipment and its sensors, all from one seed.

geo.py        the local km frame and the little plane geometry the city needs
layout.py     districts, coast, river, beaches, roads, buildings
equipment.py  departments, gateways, streetlights, and sensors placed on entities
twin.py       the city as twin entities, written as a GeoJSON FeatureCollection
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from firmware_sim import streams
from firmware_sim.city.equipment import (
    DEPARTMENTS,
    Department,
    Gateway,
    PlacedSensor,
    Streetlight,
    make_gateways,
    make_streetlights,
    place_sensor,
)
from firmware_sim.city.geo import Frame
from firmware_sim.city.layout import Layout, make_layout
from firmware_sim.errors import SimConfigError
from firmware_sim.fleet import (
    DEFAULT_CITY,
    City,
    SimSensor,
    check_fleet,
    make_fleet,
    make_sensor,
)

# How far into the fleet to look for sensors of the chosen gateways before giving up: a
# gateway's share of the fleet is about its district's share of the city, never this small.
_SEARCH_FACTOR = 200

__all__ = ["GeneratedCity", "PlacedSensor", "generate_city"]


@dataclass(frozen=True, slots=True)
class GeneratedCity:
    """A whole simulated city: where it is, what it is made of, and its sensors."""

    seed: int
    site: City
    frame: Frame
    layout: Layout
    departments: tuple[Department, ...]
    gateways: tuple[Gateway, ...]
    streetlights: tuple[Streetlight, ...]
    sensors: tuple[PlacedSensor, ...]

    def sensors_of(self, kind: str) -> tuple[PlacedSensor, ...]:
        """The placed sensors of one kind, in fleet order."""
        return tuple(s for s in self.sensors if s.sensor.kind == kind)


def generate_city(
    seed: int,
    sensors: int,
    prefix: str = "sim",
    site: City = DEFAULT_CITY,
    gateways: int | None = None,
) -> GeneratedCity:
    """The city of ``seed`` with the first ``sensors`` sensors of the fleet placed in it.

    With ``gateways``, the first ``sensors`` sensors of the fleet that report to one of the
    city's first ``gateways`` gateways (gw-01, gw-02...), in fleet order.
    """
    layout = make_layout(np.random.default_rng([seed, streams.LAYOUT]))
    frame = Frame(site.lat, site.lon)
    all_gateways = make_gateways(layout)
    lights = make_streetlights(layout)

    def place(sensor: SimSensor) -> PlacedSensor:
        return place_sensor(seed, sensor, layout, lights, all_gateways, frame)

    if gateways is None:
        placed = tuple(map(place, make_fleet(seed, sensors, prefix, site)))
    else:
        if not 1 <= gateways <= len(all_gateways):
            raise SimConfigError(
                f"gateways: {gateways} is not in 1..{len(all_gateways)}, the city's gateways",
                field="gateways",
            )
        chosen = {g.id for g in all_gateways[:gateways]}
        placed = _first_of(chosen, sensors, place, seed, prefix, site)
    return GeneratedCity(seed, site, frame, layout, DEPARTMENTS, all_gateways, lights, placed)


def _first_of(
    gateways: set[str],
    count: int,
    place: Callable[[SimSensor], PlacedSensor],
    seed: int,
    prefix: str,
    site: City,
) -> tuple[PlacedSensor, ...]:
    """The first ``count`` sensors of the fleet, in fleet order, that report to ``gateways``."""
    check_fleet(seed, count * _SEARCH_FACTOR, prefix)
    found: list[PlacedSensor] = []
    for number in range(1, count * _SEARCH_FACTOR + 1):
        if len(found) == count:
            return tuple(found)
        spot = place(make_sensor(seed, number, prefix, site))
        if spot.gateway in gateways:
            found.append(spot)
    if len(found) < count:
        raise SimConfigError(
            f"gateways: {', '.join(sorted(gateways))} have fewer than {count} sensors",
            field="gateways",
        )
    return tuple(found)
