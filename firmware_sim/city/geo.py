"""Plane geometry for the generated city, in kilometres east (x) and north (y) of its centre.

The city is laid out on a local flat frame, which is exact enough over a few kilometres, and
converted to longitude and latitude only when it is written as GeoJSON.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

Point = tuple[float, float]
Ring = tuple[Point, ...]

KM_PER_DEGREE: Final = 111.32
_DECIMALS: Final = 6  # about 0.1 m: finer would only bloat the file


@dataclass(frozen=True, slots=True)
class Frame:
    """A local frame: the longitude and latitude of its origin."""

    lat: float
    lon: float

    def lonlat(self, point: Point) -> list[float]:
        """GeoJSON position [lon, lat] of a point given in km east and north of the origin."""
        x, y = point
        lat = self.lat + y / KM_PER_DEGREE
        lon = self.lon + x / (KM_PER_DEGREE * math.cos(math.radians(self.lat)))
        return [round(lon, _DECIMALS), round(lat, _DECIMALS)]

    def point(self, point: Point) -> dict[str, Any]:
        """A GeoJSON Point."""
        return {"type": "Point", "coordinates": self.lonlat(point)}

    def line(self, points: Sequence[Point]) -> dict[str, Any]:
        """A GeoJSON LineString."""
        return {"type": "LineString", "coordinates": [self.lonlat(p) for p in points]}

    def polygon(self, ring: Ring) -> dict[str, Any]:
        """A GeoJSON Polygon, its ring closed and counter-clockwise as RFC 7946 asks."""
        points = list(ring) if signed_area(ring) > 0 else list(reversed(ring))
        return {"type": "Polygon", "coordinates": [[self.lonlat(p) for p in [*points, points[0]]]]}


def signed_area(ring: Ring) -> float:
    """Area of a ring in km2, positive when it turns counter-clockwise."""
    total = 0.0
    for (x1, y1), (x2, y2) in zip(ring, ring[1:] + ring[:1], strict=True):
        total += x1 * y2 - x2 * y1
    return total / 2.0


def centroid(ring: Ring) -> Point:
    """The mean of a ring's vertices: inside any convex ring, which is all the city makes."""
    return (
        sum(p[0] for p in ring) / len(ring),
        sum(p[1] for p in ring) / len(ring),
    )


def contains(ring: Ring, point: Point) -> bool:
    """True if ``point`` lies inside ``ring`` (ray casting; the boundary counts either way)."""
    x, y = point
    inside = False
    for (x1, y1), (x2, y2) in zip(ring, ring[1:] + ring[:1], strict=True):
        if (y1 > y) != (y2 > y) and x < x1 + (y - y1) * (x2 - x1) / (y2 - y1):
            inside = not inside
    return inside


def distance(a: Point, b: Point) -> float:
    """Straight-line distance in km."""
    return math.hypot(a[0] - b[0], a[1] - b[1])


def midpoint(a: Point, b: Point) -> Point:
    """The point halfway between ``a`` and ``b``."""
    return ((a[0] + b[0]) / 2.0, (a[1] + b[1]) / 2.0)


def rectangle(centre: Point, width: float, depth: float) -> Ring:
    """An axis-aligned rectangle, counter-clockwise."""
    x, y = centre
    w, d = width / 2.0, depth / 2.0
    return ((x - w, y - d), (x + w, y - d), (x + w, y + d), (x - w, y + d))


def rounded(point: Point, decimals: int = 4) -> Point:
    """A point rounded to ``decimals`` (0.1 m at 4), so layouts compare exactly."""
    return (round(point[0], decimals), round(point[1], decimals))
