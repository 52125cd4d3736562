"""The generated city: deterministic, complete, consistent, and valid GeoJSON."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from firmware_sim.city import generate_city
from firmware_sim.city.geo import contains, distance, midpoint, signed_area
from firmware_sim.city.layout import COAST, EAST, SOUTH, WEST
from firmware_sim.city.twin import CATEGORIES, dumps, entities, feature_collection
from firmware_sim.errors import SimConfigError
from firmware_sim.fleet import make_fleet


def test_the_same_seed_gives_the_same_bytes() -> None:
    assert dumps(generate_city(7, 60)) == dumps(generate_city(7, 60))


def test_another_seed_gives_another_city() -> None:
    one, other = generate_city(7, 10), generate_city(8, 10)
    assert one.layout.districts != other.layout.districts
    assert [s.position for s in one.sensors] != [s.position for s in other.sensors]


def test_a_larger_fleet_keeps_the_smaller_one_in_place() -> None:
    assert generate_city(3, 80).sensors[:16] == generate_city(3, 16).sensors


def test_sensors_are_the_fleet_of_sim_run() -> None:
    city = generate_city(7, 24, "demo")
    fleet = make_fleet(7, 24, "demo")
    assert [(p.sensor.id, p.sensor.kind) for p in city.sensors] == [(s.id, s.kind) for s in fleet]


def test_every_category_is_present() -> None:
    kinds = Counter(e.category for e in entities(generate_city(7, 40)))
    assert set(kinds) == set(CATEGORIES)


def test_ids_are_unique_urns_and_relationships_point_at_entities() -> None:
    found = entities(generate_city(7, 80))
    ids = [e.id for e in found]
    assert len(set(ids)) == len(ids)
    assert all(i.startswith(f"urn:ngsi-ld:{e.type}:") for i, e in zip(ids, found, strict=True))
    for entity in found:
        for target in entity.relationships.values():
            targets = target if isinstance(target, tuple) else (target,)
            assert set(targets) <= set(ids), entity.id


@pytest.mark.parametrize(
    ("kind", "observed"),
    [
        ("traffic_flow", {"RoadSegment"}),
        ("water_quality", {"Beach", "River"}),
        ("air_quality", {"District"}),
        ("energy_meter", {"Building"}),
        ("parking", {"Building"}),
        ("people_counter", {"Beach", "Building"}),
    ],
)
def test_sensors_observe_the_right_things(kind: str, observed: set[str]) -> None:
    found = {e.id: e for e in entities(generate_city(7, 200))}
    mine = [e for e in found.values() if e.attributes.get("kind") == kind]
    assert len(mine) == 25
    targets = {found[str(e.relationships["observes"])].type for e in mine}
    assert targets <= observed


def test_districts_tile_the_city_and_roads_lie_in_theirs() -> None:
    city = generate_city(7, 0)
    area = sum(abs(signed_area(d.ring)) for d in city.layout.districts)
    assert area == pytest.approx((EAST - WEST) * (COAST - SOUTH), rel=0.05)
    for road in city.layout.roads:
        homes = [d.id for d in city.layout.districts if contains(d.ring, midpoint(*road.ends))]
        assert homes in ([road.district], [])  # [] on the city's edge: the nearest district


def test_road_neighbours_are_mutual() -> None:
    roads = {r.id: r for r in generate_city(7, 0).layout.roads}
    assert all(road.id in roads[n].neighbours for road in roads.values() for n in road.neighbours)


def test_each_sensor_reports_to_the_nearest_gateway() -> None:
    city = generate_city(7, 120)
    for placed in city.sensors:
        nearest = min(city.gateways, key=lambda g: distance(g.position, placed.position))
        assert placed.gateway == nearest.id


def test_a_beach_with_an_outfall_lies_by_the_river_mouth() -> None:
    city = generate_city(7, 0)
    mouth = city.layout.water[1].shape[-1]
    first = city.layout.beaches[0]
    assert first.outfall
    assert min(distance(mouth, p) for p in first.ring) < 0.3


def test_geojson_polygons_are_closed_and_counter_clockwise() -> None:
    collection = json.loads(dumps(generate_city(7, 30)))
    assert collection["type"] == "FeatureCollection"
    assert collection["citytwin"]["seed"] == 7
    polygons = [f["geometry"] for f in collection["features"] if f["geometry"]["type"] == "Polygon"]
    assert polygons
    for polygon in polygons:
        ring = polygon["coordinates"][0]
        assert ring[0] == ring[-1]
        assert signed_area(tuple((x, y) for x, y in ring[:-1])) > 0
    for feature in collection["features"]:
        assert set(feature) == {"type", "id", "geometry", "properties"}
        assert feature["properties"]["category"] in CATEGORIES


def test_feature_collection_is_json_safe() -> None:
    collection = feature_collection(generate_city(1, 16))
    assert json.loads(json.dumps(collection)) == collection


def test_gateways_take_the_first_sensors_that_report_to_them() -> None:
    city = generate_city(7, 30, gateways=3)
    chosen = ("gw-01", "gw-02", "gw-03")
    whole = generate_city(7, 400)
    assert [g.id for g in city.gateways[:3]] == list(chosen)
    assert city.sensors == tuple(p for p in whole.sensors if p.gateway in chosen)[:30]
    assert {p.gateway for p in city.sensors} == set(chosen)


@pytest.mark.parametrize("gateways", [0, 10])
def test_a_city_has_only_so_many_gateways(gateways: int) -> None:
    with pytest.raises(SimConfigError, match=rf"^gateways: {gateways} is not in 1\.\.9") as err:
        generate_city(7, 5, gateways=gateways)
    assert err.value.field == "gateways"
