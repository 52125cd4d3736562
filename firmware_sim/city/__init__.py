"""The generated city: a layout, its equipment and its sensors, all from one seed.

geo.py        the local km frame and the little plane geometry the city needs
layout.py     districts, coast, river, beaches, roads, buildings
equipment.py  departments, gateways, streetlights, and sensors placed on entities
twin.py       the city as twin entities, written as a GeoJSON FeatureCollection
"""

from __future__ import annotations

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
from firmware_sim.fleet import DEFAULT_CITY, City, make_fleet

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
    seed: int, sensors: int, prefix: str = "sim", site: City = DEFAULT_CITY
) -> GeneratedCity:
    """The city of ``seed`` with the first ``sensors`` sensors of the fleet placed in it."""
    fleet = make_fleet(seed, sensors, prefix, site)
    layout = make_layout(np.random.default_rng([seed, streams.LAYOUT]))
    frame = Frame(site.lat, site.lon)
    gateways = make_gateways(layout)
    lights = make_streetlights(layout)
    placed = tuple(place_sensor(seed, s, layout, lights, gateways, frame) for s in fleet)
    return GeneratedCity(seed, site, frame, layout, DEPARTMENTS, gateways, lights, placed)
