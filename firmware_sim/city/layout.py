"""The physical city, from a seed: districts, the coast, a river, beaches, roads and buildings.

The city spans 6 km west to east and about 4.5 km south to north, with the sea to the north.
Districts are a 3 x 3 grid of quadrilaterals whose inner corners are jittered, so they tile the
city without gaps. Streets follow a jittered grid of intersections about 600 m by 500 m apart;
about a third of the segments are arterials. A river crosses from the south and meets the sea
next to one of the beaches, which is where sewage overflows after heavy rain.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

import numpy as np

from firmware_sim.city.geo import Point, Ring, centroid, contains, midpoint, rectangle, rounded

Rng = np.random.Generator
BuildingUse = Literal["residential", "office", "retail", "school", "hospital", "car_park"]

WEST, EAST, SOUTH, COAST = -3.0, 3.0, -2.6, 2.0
_COLUMNS, _ROWS = 3, 3
DISTRICTS: Final = _COLUMNS * _ROWS  # and as many gateways, one per district
_DISTRICT_NAMES: Final = (
    "Centro", "Puerto", "Castillo", "Alameda", "Ribera", "Lomas", "Estacion", "Jardines",
    "Faro", "Molinos", "Cuesta", "Arenal",
)  # fmt: skip
_STREET_NAMES: Final = (
    "Calle Mayor", "Calle del Sol", "Calle Real", "Calle del Mar", "Calle Alta", "Calle Nueva",
    "Calle del Rio", "Calle Ancha", "Calle del Pozo", "Calle Baja", "Calle del Muelle",
)  # fmt: skip
_BEACH_NAMES: Final = ("El Sardinero", "La Magdalena", "Los Peligros", "La Concha", "Bikini")
_USES: Final[tuple[BuildingUse, ...]] = (
    "residential", "office", "retail", "school", "hospital", "car_park",
)  # fmt: skip
_USE_WEIGHTS: Final = (0.45, 0.2, 0.1, 0.08, 0.04, 0.13)
_NODE_DX, _NODE_DY = 0.6, 0.5


@dataclass(frozen=True, slots=True)
class District:
    """A management area: a named quadrilateral of the city."""

    id: str
    name: str
    ring: Ring
    population: int


@dataclass(frozen=True, slots=True)
class RoadSegment:
    """One street between two intersections; ``neighbours`` share an intersection with it."""

    id: str
    name: str
    ends: tuple[Point, Point]
    district: str
    arterial: bool
    lanes: int
    speed_limit: int  # km/h
    neighbours: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class WaterBody:
    """The sea (a polygon) or the river (a line from its source to its mouth)."""

    id: str
    name: str
    kind: Literal["sea", "river"]
    shape: Ring


@dataclass(frozen=True, slots=True)
class Beach:
    """A bathing beach on the coast; ``outfall`` marks a combined sewer that can overflow."""

    id: str
    name: str
    ring: Ring
    district: str
    outfall: bool


@dataclass(frozen=True, slots=True)
class Building:
    """A building: what it is used for and how big it is."""

    id: str
    name: str
    use: BuildingUse
    ring: Ring
    district: str
    floors: int
    floor_area_m2: int


@dataclass(frozen=True, slots=True)
class Layout:
    """Everything physical in the city."""

    districts: tuple[District, ...]
    roads: tuple[RoadSegment, ...]
    water: tuple[WaterBody, ...]
    beaches: tuple[Beach, ...]
    buildings: tuple[Building, ...]

    def district_at(self, point: Point) -> str:
        """The id of the district containing ``point``, or of the nearest one's centre."""
        for district in self.districts:
            if contains(district.ring, point):
                return district.id
        return min(self.districts, key=lambda d: _sq(centroid(d.ring), point)).id


def _sq(a: Point, b: Point) -> float:
    return (a[0] - b[0]) ** 2 + (a[1] - b[1]) ** 2


def make_layout(rng: Rng) -> Layout:
    """A whole city layout, drawn from ``rng`` in a fixed order."""
    corners = _district_corners(rng)
    districts = _districts(rng, corners)
    partial = Layout(districts, (), (), (), ())
    coast = tuple(corners[_ROWS][c] for c in range(_COLUMNS + 1))
    river = _river(rng, coast)
    beaches = _beaches(rng, partial, coast, river[-1])
    sea = WaterBody(
        "sea", "Mar Cantabrico", "sea", (*coast, (EAST, COAST + 1.5), (WEST, COAST + 1.5))
    )
    roads = _roads(rng, partial)
    buildings = _buildings(rng, districts)
    water = (sea, WaterBody("river", "Rio Pas", "river", river))
    return Layout(districts, roads, water, beaches, buildings)


def _district_corners(rng: Rng) -> list[list[Point]]:
    """Grid corners, rows from south to north; inner ones jittered, the coast row wavy."""
    xs = np.linspace(WEST, EAST, _COLUMNS + 1)
    ys = np.linspace(SOUTH, COAST, _ROWS + 1)
    rows = []
    for r, y in enumerate(ys):
        row = []
        for c, x in enumerate(xs):
            inner_x = 0 < c < _COLUMNS
            jx = rng.uniform(-0.3, 0.3) if inner_x else 0.0
            jy = rng.uniform(-0.25, 0.25) if 0 < r < _ROWS else 0.0
            if r == _ROWS:
                jy = rng.uniform(-0.15, 0.15)
            row.append(rounded((float(x) + jx, float(y) + jy)))
        rows.append(row)
    return rows


def _districts(rng: Rng, corners: list[list[Point]]) -> tuple[District, ...]:
    names = rng.permutation(len(_DISTRICT_NAMES))
    out = []
    for r in range(_ROWS):
        for c in range(_COLUMNS):
            index = r * _COLUMNS + c
            ring = (corners[r][c], corners[r][c + 1], corners[r + 1][c + 1], corners[r + 1][c])
            name = _DISTRICT_NAMES[int(names[index])]
            population = int(rng.integers(8_000, 40_000))
            out.append(District(f"district-{index + 1:02d}", name, ring, population))
    return tuple(out)


def coast_y(coast: tuple[Point, ...], x: float) -> float:
    """The latitude (km) of the coastline at ``x``."""
    return float(np.interp(x, [p[0] for p in coast], [p[1] for p in coast]))


def _river(rng: Rng, coast: tuple[Point, ...]) -> Ring:
    """A meandering line from the south edge to the coast."""
    x0 = float(rng.uniform(-1.5, 1.5))
    phase = float(rng.uniform(0, 2 * np.pi))
    points = []
    for y in np.linspace(SOUTH - 0.4, COAST, 12):
        x = x0 + 0.35 * np.sin(phase + 1.7 * float(y))
        points.append(rounded((float(x), min(float(y), coast_y(coast, float(x))))))
    return tuple(points)


def _beaches(
    rng: Rng, partial: Layout, coast: tuple[Point, ...], mouth: Point
) -> tuple[Beach, ...]:
    """Three beaches along the coast, the first beside the river mouth."""
    starts = [mouth[0] + 0.1, *(float(x) for x in rng.uniform(WEST + 0.2, EAST - 1.0, 6))]
    chosen: list[float] = []
    for x in starts:  # keep beaches apart and on the shore
        if all(abs(x - other) > 1.1 for other in chosen) and WEST < x < EAST - 0.8:
            chosen.append(x)
        if len(chosen) == 3:
            break
    names = rng.permutation(len(_BEACH_NAMES))
    beaches = []
    for index, x in enumerate(chosen):
        length = float(rng.uniform(0.5, 0.8))
        west, east = (x, coast_y(coast, x)), (x + length, coast_y(coast, x + length))
        ring = (rounded(west), rounded(east), rounded((east[0], east[1] + 0.08)),
                rounded((west[0], west[1] + 0.08)))  # fmt: skip
        district = partial.district_at((x + length / 2, coast_y(coast, x + length / 2) - 0.05))
        outfall = index == 0 or bool(rng.random() < 0.3)
        beaches.append(
            Beach(f"beach-{index + 1}", _BEACH_NAMES[int(names[index])], ring, district, outfall)
        )
    return tuple(beaches)


def _roads(rng: Rng, partial: Layout) -> tuple[RoadSegment, ...]:
    """Segments between neighbouring intersections of a jittered street grid."""
    xs = np.arange(WEST, EAST + 1e-9, _NODE_DX)
    ys = np.arange(SOUTH + 0.1, COAST - 0.3, _NODE_DY)
    nodes = {
        (c, r): rounded((float(x) + rng.uniform(-0.06, 0.06), float(y) + rng.uniform(-0.06, 0.06)))
        for r, y in enumerate(ys)
        for c, x in enumerate(xs)
    }
    edges: list[tuple[tuple[int, int], tuple[int, int], bool, str]] = []
    for c, r in sorted(nodes, key=lambda n: (n[1], n[0])):
        if (c + 1, r) in nodes:
            edges.append(((c, r), (c + 1, r), r % 3 == 1 or r == len(ys) - 1, _street(r, "E")))
        if (c, r + 1) in nodes:
            edges.append(((c, r), (c, r + 1), c % 4 == 1, _street(c + 3, "N")))
    touching: dict[tuple[int, int], list[int]] = {}
    for index, (a, b, _, _) in enumerate(edges):
        touching.setdefault(a, []).append(index)
        touching.setdefault(b, []).append(index)
    segments = []
    for index, (a, b, arterial, street) in enumerate(edges):
        ends = (nodes[a], nodes[b])
        others = sorted({i for n in (a, b) for i in touching[n]} - {index})
        segments.append(
            RoadSegment(
                id=f"road-{index + 1:03d}",
                name=f"{street} {index + 1}",
                ends=ends,
                district=partial.district_at(midpoint(*ends)),
                arterial=arterial,
                lanes=2 if arterial else 1,
                speed_limit=50 if arterial else 30,
                neighbours=tuple(f"road-{i + 1:03d}" for i in others),
            )
        )
    return tuple(segments)


def _street(index: int, axis: str) -> str:
    name = _STREET_NAMES[index % len(_STREET_NAMES)]
    return name.replace("Calle", "Avenida", 1) if axis == "N" else name


def _buildings(rng: Rng, districts: tuple[District, ...]) -> tuple[Building, ...]:
    """Eight to twelve buildings per district, each somewhere inside it."""
    out: list[Building] = []
    for district in districts:
        xs = [p[0] for p in district.ring]
        ys = [p[1] for p in district.ring]
        for _ in range(int(rng.integers(8, 13))):
            while True:  # rejection sampling: the districts are mostly inside their bounding box
                centre = (
                    float(rng.uniform(min(xs), max(xs))),
                    float(rng.uniform(min(ys), max(ys))),
                )
                if contains(district.ring, centre):
                    break
            use = _USES[int(rng.choice(len(_USES), p=_USE_WEIGHTS))]
            width, depth = (float(v) for v in rng.uniform(0.03, 0.12, 2))
            floors = int(rng.integers(1, 4) if use == "car_park" else rng.integers(2, 11))
            number = len(out) + 1
            out.append(
                Building(
                    id=f"building-{number:03d}",
                    name=f"{use.replace('_', ' ').title()} {number}",
                    use=use,
                    ring=tuple(rounded(p) for p in rectangle(centre, width, depth)),
                    district=district.id,
                    floors=floors,
                    floor_area_m2=int(width * depth * 1e6 * floors),
                )
            )
    return tuple(out)
