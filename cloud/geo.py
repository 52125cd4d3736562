"""Pure geometry of the twin: bounding boxes and distances from a point to a GeoJSON geometry.

Distances use a local equirectangular projection around the query point: within the few
kilometres of a city it is exact to well under a metre, and it needs no geodesy library.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

EARTH_RADIUS_M = 6_371_008.8
M_PER_DEG = math.pi * EARTH_RADIUS_M / 180
Position = tuple[float, float]


class GeometryError(ValueError):
    """A GeoJSON geometry that is not one of the kinds the twin stores, or is malformed."""


@dataclass(frozen=True, slots=True)
class Box:
    """A lon/lat bounding box, edges included."""

    min_lon: float
    min_lat: float
    max_lon: float
    max_lat: float


def bounds(geometry: Mapping[str, Any]) -> Box:
    """The bounding box of a Point, LineString or Polygon (or their Multi- forms)."""
    positions = list(_positions(geometry))
    if not positions:
        raise GeometryError(f"{geometry.get('type')} has no positions")
    lons = [p[0] for p in positions]
    lats = [p[1] for p in positions]
    return Box(min(lons), min(lats), max(lons), max(lats))


def around(lon: float, lat: float, radius_m: float) -> Box:
    """A box that holds every point within ``radius_m`` of (lon, lat)."""
    dlat = radius_m / M_PER_DEG
    dlon = radius_m / (M_PER_DEG * max(math.cos(math.radians(lat)), 1e-6))
    return Box(lon - dlon, lat - dlat, lon + dlon, lat + dlat)


def distance_m(lon: float, lat: float, geometry: Mapping[str, Any]) -> float:
    """Metres from (lon, lat) to the nearest point of ``geometry`` (0 inside a polygon)."""
    kx = M_PER_DEG * math.cos(math.radians(lat))

    def local(p: Sequence[float]) -> Position:
        return ((p[0] - lon) * kx, (p[1] - lat) * M_PER_DEG)

    kind = geometry.get("type")
    coords = geometry.get("coordinates")
    if kind == "Point":
        return math.hypot(*local(_position(coords)))
    if kind == "LineString":
        return _to_line([local(p) for p in _line(coords)])
    if kind == "Polygon":
        rings = [[local(p) for p in _line(ring)] for ring in _list(coords)]
        if rings and _inside(rings):
            return 0.0
        return min(_to_line(ring) for ring in rings)
    if kind in ("MultiPoint", "MultiLineString", "MultiPolygon"):
        single = kind.removeprefix("Multi")
        return min(distance_m(lon, lat, {"type": single, "coordinates": c}) for c in _list(coords))
    raise GeometryError(f"geometry type {kind!r} is not supported")


def _positions(geometry: Mapping[str, Any]) -> Iterator[Position]:
    kind = geometry.get("type")
    coords = geometry.get("coordinates")
    depth = {"Point": 0, "MultiPoint": 1, "LineString": 1, "MultiLineString": 2, "Polygon": 2,
             "MultiPolygon": 3}.get(str(kind))  # fmt: skip
    if depth is None:
        raise GeometryError(f"geometry type {kind!r} is not supported")
    yield from _flatten(coords, depth)


def _flatten(coords: Any, depth: int) -> Iterator[Position]:
    if depth == 0:
        yield _position(coords)
        return
    for item in _list(coords):
        yield from _flatten(item, depth - 1)


def _position(value: Any) -> Position:
    if (
        not isinstance(value, list | tuple)
        or len(value) < 2
        or not all(isinstance(v, int | float) and math.isfinite(v) for v in value[:2])
    ):
        raise GeometryError(f"{value!r} is not a [lon, lat] position")
    lon, lat = float(value[0]), float(value[1])
    if not (-180 <= lon <= 180 and -90 <= lat <= 90):
        raise GeometryError(f"[{lon}, {lat}] is outside [-180..180, -90..90]")
    return lon, lat


def _list(value: Any) -> list[Any]:
    if not isinstance(value, list | tuple):
        raise GeometryError(f"{value!r} is not a list of coordinates")
    return list(value)


def _line(value: Any) -> list[Position]:
    return [_position(p) for p in _list(value)]


def _to_line(points: Sequence[Position]) -> float:
    if len(points) == 1:
        return math.hypot(*points[0])
    return min(_to_segment(a, b) for a, b in itertools.pairwise(points))


def _to_segment(a: Position, b: Position) -> float:
    """Distance from the origin to segment ab."""
    dx, dy = b[0] - a[0], b[1] - a[1]
    length2 = dx * dx + dy * dy
    t = 0.0 if length2 == 0 else max(0.0, min(1.0, -(a[0] * dx + a[1] * dy) / length2))
    return math.hypot(a[0] + t * dx, a[1] + t * dy)


def _inside(rings: Sequence[Sequence[Position]]) -> bool:
    """The origin is inside the outer ring and outside every hole (even-odd rule)."""
    crossings = 0
    for ring in rings:
        for (x1, y1), (x2, y2) in itertools.pairwise(ring):
            if (y1 > 0) != (y2 > 0) and x1 + (0 - y1) * (x2 - x1) / (y2 - y1) > 0:
                crossings += 1
    return crossings % 2 == 1
