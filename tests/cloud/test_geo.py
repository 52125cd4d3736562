"""Pure geometry and city-file parsing: tables of cases."""

from __future__ import annotations

import json

import pytest

from cloud import city, geo

SQUARE = {"type": "Polygon", "coordinates": [[[0, 0], [0.01, 0], [0.01, 0.01], [0, 0.01], [0, 0]]]}
M_PER_DEG = geo.M_PER_DEG


@pytest.mark.parametrize(
    ("point", "geometry", "metres"),
    [
        ((0, 0), {"type": "Point", "coordinates": [0, 0.001]}, 0.001 * M_PER_DEG),
        ((0.005, 0.005), SQUARE, 0.0),
        ((0.005, -0.001), SQUARE, 0.001 * M_PER_DEG),
        ((0.005, 0.001), {"type": "LineString", "coordinates": [[0, 0], [0.01, 0]]},
         0.001 * M_PER_DEG),
        ((0.02, 0), {"type": "LineString", "coordinates": [[0, 0], [0.01, 0]]},
         0.01 * M_PER_DEG),
        ((0, 0), {"type": "MultiPoint", "coordinates": [[0, 0.002], [0, 0.001]]},
         0.001 * M_PER_DEG),
    ],
    ids=["point", "inside polygon", "outside polygon", "beside line", "past line end", "multi"],
)  # fmt: skip
def test_distance(point: tuple[float, float], geometry: dict[str, object], metres: float) -> None:
    assert geo.distance_m(*point, geometry) == pytest.approx(metres, rel=1e-4, abs=1e-6)


def test_bounds_of_a_polygon() -> None:
    assert geo.bounds(SQUARE) == geo.Box(0, 0, 0.01, 0.01)


@pytest.mark.parametrize(
    ("geometry", "message"),
    [
        ({"type": "Circle", "coordinates": [0, 0]}, "'Circle' is not supported"),
        ({"type": "Point", "coordinates": [0]}, "is not a [lon, lat] position"),
        ({"type": "Point", "coordinates": [0, 95]}, "outside"),
        ({"type": "LineString", "coordinates": []}, "has no positions"),
    ],
)
def test_bad_geometry(geometry: dict[str, object], message: str) -> None:
    with pytest.raises(geo.GeometryError, match=message.replace("[", r"\[")):
        geo.bounds(geometry)


def feature(**changes: object) -> dict[str, object]:
    base: dict[str, object] = {
        "type": "Feature",
        "id": "urn:ngsi-ld:Beach:b-1",
        "geometry": SQUARE,
        "properties": {"category": "natural_entities", "type": "Beach", "name": "B"},
    }
    return base | changes


@pytest.mark.parametrize(
    ("features", "message"),
    [
        ([feature(id="beach-1")], "features.0.id: String should match pattern"),
        ([feature(), feature()], "features.1: id 'urn:ngsi-ld:Beach:b-1' appears twice"),
        ([feature(geometry={"type": "Point", "coordinates": [1]})], "features.0.geometry"),
        ([feature(properties={"category": "aliens", "type": "X"})], "properties.category"),
    ],
    ids=["not a urn", "twice", "bad geometry", "unknown category"],
)
def test_a_bad_city_file_names_the_feature(features: list[object], message: str) -> None:
    text = json.dumps({"type": "FeatureCollection", "features": features})

    with pytest.raises(city.CityFileError, match=message):
        city.parse(text)


def test_not_json_is_a_city_file_error() -> None:
    with pytest.raises(city.CityFileError, match="not a city file"):
        city.parse(b"{")
