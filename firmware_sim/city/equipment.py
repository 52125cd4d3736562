"""What the city installs on its layout: departments, gateways, streetlights and sensors.

Each sensor of the plain fleet (same ids and kinds as ``citytwin sim run``) is placed on an
entity that suits its kind, from a random stream keyed by (seed, sensor number) alone, so a
sensor stands in the same place whatever the fleet size. It reports to the nearest gateway.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Final

import numpy as np

from firmware_sim import streams
from firmware_sim.city.geo import Frame, Point, centroid, distance, midpoint, rounded
from firmware_sim.city.layout import Building, Layout
from firmware_sim.fleet import SimSensor


@dataclass(frozen=True, slots=True)
class Department:
    """A legal person of the city: a department and the entity types it answers for."""

    id: str
    name: str
    responsible_for: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Gateway:
    """An edge gateway, one per district."""

    id: str
    name: str
    position: Point
    district: str


@dataclass(frozen=True, slots=True)
class Streetlight:
    """A streetlight at the middle of a road segment; air and noise sensors hang on them."""

    id: str
    position: Point
    segment: str
    district: str


@dataclass(frozen=True, slots=True)
class PlacedSensor:
    """A fleet sensor where it stands: what it observes, what it hangs on, its gateway."""

    sensor: SimSensor
    position: Point
    district: str
    observes: str  # local id of a district, road, beach, building or the river
    mounted_on: str | None
    gateway: str


DEPARTMENTS: Final = (
    Department("dept-mobility", "Mobility and Transport",
               ("RoadSegment", "TrafficFlowObserved", "OffStreetParking", "CrowdFlowObserved")),
    Department("dept-environment", "Environment",
               ("AirQualityObserved", "NoiseLevelObserved", "WeatherObserved", "River")),
    Department("dept-beaches", "Beaches and Bathing Water",
               ("Beach", "Sea", "WaterQualityObserved")),
    Department("dept-energy", "Energy and Municipal Buildings",
               ("Building", "ThreePhaseAcMeasurement")),
    Department("dept-lighting", "Public Lighting", ("Streetlight",)),
    Department("dept-planning", "Urban Planning", ("District",)),
    Department("dept-platform", "Urban Platform", ("Gateway",)),
)  # fmt: skip


def responsible(entity_type: str) -> str:
    """The id of the department responsible for entities of ``entity_type``."""
    for department in DEPARTMENTS:
        if entity_type in department.responsible_for:
            return department.id
    return "dept-planning"


def make_gateways(layout: Layout) -> tuple[Gateway, ...]:
    """One gateway per district, on the building nearest the district's centre."""
    out = []
    for index, district in enumerate(layout.districts):
        centre = centroid(district.ring)
        mine = [b for b in layout.buildings if b.district == district.id]
        spot = min(
            (centroid(b.ring) for b in mine), key=lambda p: distance(p, centre), default=centre
        )
        out.append(
            Gateway(f"gw-{index + 1:02d}", f"Gateway {district.name}", rounded(spot), district.id)
        )
    return tuple(out)


def make_streetlights(layout: Layout) -> tuple[Streetlight, ...]:
    """A streetlight at the middle of every road segment."""
    return tuple(
        Streetlight(
            f"streetlight-{index + 1:03d}", rounded(midpoint(*road.ends)), road.id, road.district
        )
        for index, road in enumerate(layout.roads)
    )


def place_sensor(
    seed: int,
    sensor: SimSensor,
    layout: Layout,
    lights: tuple[Streetlight, ...],
    gateways: tuple[Gateway, ...],
    frame: Frame,
) -> PlacedSensor:
    """Stand ``sensor`` on an entity of the right kind, keyed by (seed, its number) alone."""
    rng = np.random.default_rng([seed, streams.PLACEMENT, sensor.number])
    position, observes, mounted_on = _host(rng, sensor.kind, layout, lights)
    position = rounded(position)
    gateway = min(gateways, key=lambda g: distance(g.position, position))
    lon, lat = frame.lonlat(position)
    return PlacedSensor(
        sensor=dataclasses.replace(sensor, lat=lat, lon=lon),
        position=position,
        district=_beach_districts(layout).get(observes) or layout.district_at(position),
        observes=observes,
        mounted_on=mounted_on,
        gateway=gateway.id,
    )


def _beach_districts(layout: Layout) -> dict[str, str]:
    # A beach sensor stands in the water, outside every district: it belongs to its beach's.
    return {beach.id: beach.district for beach in layout.beaches}


def _host(
    rng: np.random.Generator, kind: str, layout: Layout, lights: tuple[Streetlight, ...]
) -> tuple[Point, str, str | None]:
    """Position, observed entity and mounting of a sensor of ``kind``."""
    jitter = rng.uniform(-0.01, 0.01, 2)
    if kind in ("air_quality", "noise"):
        light = lights[int(rng.integers(len(lights)))]
        return _moved(light.position, jitter), light.district, light.id
    if kind == "traffic_flow":
        arterials = [r for r in layout.roads if r.arterial]
        road = arterials[int(rng.integers(len(arterials)))]
        return _moved(midpoint(*road.ends), jitter), road.id, None
    if kind == "water_quality":
        return _river_spot(rng, layout) if rng.random() < 0.2 else _beach_spot(rng, layout)
    if kind == "people_counter" and rng.random() < 0.6:
        return _beach_spot(rng, layout)
    uses = {"parking": ("car_park",), "people_counter": ("retail", "office", "school")}
    building = _building(
        rng, layout, uses.get(kind, ("residential", "office", "retail", "school", "hospital"))
    )
    observes = layout.district_at(centroid(building.ring)) if kind == "weather" else building.id
    return centroid(building.ring), observes, building.id


def _beach_spot(rng: np.random.Generator, layout: Layout) -> tuple[Point, str, str | None]:
    beach = layout.beaches[int(rng.integers(len(layout.beaches)))]
    x, y = centroid(beach.ring)
    return (x + float(rng.uniform(-0.2, 0.2)), y), beach.id, None


def _river_spot(rng: np.random.Generator, layout: Layout) -> tuple[Point, str, str | None]:
    river = layout.water[1].shape
    return river[int(rng.integers(2, len(river) - 2))], "river", None


def _building(rng: np.random.Generator, layout: Layout, uses: tuple[str, ...]) -> Building:
    candidates = [b for b in layout.buildings if b.use in uses] or list(layout.buildings)
    return candidates[int(rng.integers(len(candidates)))]


def _moved(point: Point, by: np.ndarray) -> Point:
    return (point[0] + float(by[0]), point[1] + float(by[1]))
