"""The city as twin entities, and as the GeoJSON FeatureCollection ``citytwin sim city`` writes.

Every entity has an NGSI-LD style id (``urn:ngsi-ld:<Type>:<id>``), a category from the
digital-twin-city literature, a type, a GeoJSON location, static attributes and relationships
to other entities by id. A sensor's id is the one the cloud derives from its readings
(``urn:ngsi-ld:<Smart Data Model type>:<sensor id>``), so the file and live data meet.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Final

from firmware_sim.city import GeneratedCity, PlacedSensor
from firmware_sim.city.equipment import responsible
from firmware_sim.city.geo import centroid
from shared.catalogue import KINDS

FORMAT: Final = "citytwin-city/1"

MANAGEMENT: Final = "management_entities"
NATURAL: Final = "natural_entities"
BUILDINGS: Final = "buildings_and_structures"
TRANSPORT: Final = "means_of_transportation"
EQUIPMENT: Final = "goods_and_equipment"  # the same words as the cloud's twin
LEGAL: Final = "legal_persons"
CATEGORIES: Final = (MANAGEMENT, NATURAL, BUILDINGS, TRANSPORT, EQUIPMENT, LEGAL)


@dataclass(frozen=True, slots=True)
class Entity:
    """One thing of the twin: identity, category, type, location, attributes, relationships."""

    id: str
    category: str
    type: str
    name: str
    location: Mapping[str, Any]
    attributes: Mapping[str, Any]
    relationships: Mapping[str, str | tuple[str, ...]]

    def feature(self) -> dict[str, Any]:
        """This entity as a GeoJSON Feature."""
        relationships = {
            k: list(v) if isinstance(v, tuple) else v for k, v in self.relationships.items()
        }
        properties = {
            "category": self.category,
            "type": self.type,
            "name": self.name,
            "attributes": dict(self.attributes),
            "relationships": relationships,
        }
        return {"type": "Feature", "id": self.id, "geometry": dict(self.location),
                "properties": properties}  # fmt: skip


def urn(entity_type: str, local_id: str) -> str:
    """The NGSI-LD id of an entity."""
    return f"urn:ngsi-ld:{entity_type}:{local_id}"


def entities(city: GeneratedCity) -> tuple[Entity, ...]:
    """Every entity of the city, grouped by category, in a stable order."""
    urns = local_urns(city)
    return (
        *_places(city),
        *_natural(city),
        *_buildings(city),
        *_roads(city),
        *_equipment(city),
        *(_sensor(city, urns, s) for s in city.sensors),
        *_departments(city),
    )


def local_urns(city: GeneratedCity) -> dict[str, str]:
    """Local ids (``road-004``, ``beach-1``, ``river``...) to the URNs of their entities."""
    layout = city.layout
    pairs = [(d.id, urn("District", d.id)) for d in layout.districts]
    pairs += [(r.id, urn("RoadSegment", r.id)) for r in layout.roads]
    pairs += [(b.id, urn("Beach", b.id)) for b in layout.beaches]
    pairs += [(b.id, urn("Building", b.id)) for b in layout.buildings]
    pairs += [(w.id, urn(w.kind.title(), w.id)) for w in layout.water]
    pairs += [(g.id, urn("Gateway", g.id)) for g in city.gateways]
    pairs += [(s.id, urn("Streetlight", s.id)) for s in city.streetlights]
    return dict(pairs)


def _dept(entity_type: str) -> str:
    return urn("Department", responsible(entity_type))


def _places(city: GeneratedCity) -> Iterator[Entity]:
    for d in city.layout.districts:
        yield Entity(urn("District", d.id), MANAGEMENT, "District", d.name,
                     city.frame.polygon(d.ring), {"population": d.population},
                     {"responsibleDepartment": _dept("District")})  # fmt: skip


def _natural(city: GeneratedCity) -> Iterator[Entity]:
    frame, layout = city.frame, city.layout
    for w in layout.water:
        shape = frame.polygon(w.shape) if w.kind == "sea" else frame.line(w.shape)
        kind = w.kind.title()
        yield Entity(urn(kind, w.id), NATURAL, kind, w.name, shape, {},
                     {"responsibleDepartment": _dept(kind)})  # fmt: skip
    for b in layout.beaches:
        yield Entity(urn("Beach", b.id), NATURAL, "Beach", b.name, frame.polygon(b.ring),
                     {"bathing": True, "sewerOutfall": b.outfall},
                     {"locatedIn": urn("District", b.district), "partOf": urn("Sea", "sea"),
                      "responsibleDepartment": _dept("Beach")})  # fmt: skip


def _buildings(city: GeneratedCity) -> Iterator[Entity]:
    for b in city.layout.buildings:
        attributes = {"use": b.use, "floors": b.floors, "floorArea": b.floor_area_m2}
        yield Entity(urn("Building", b.id), BUILDINGS, "Building", b.name,
                     city.frame.polygon(b.ring), attributes,
                     {"locatedIn": urn("District", b.district),
                      "responsibleDepartment": _dept("Building")})  # fmt: skip


def _roads(city: GeneratedCity) -> Iterator[Entity]:
    for r in city.layout.roads:
        attributes = {"roadClass": "arterial" if r.arterial else "local", "lanes": r.lanes,
                      "speedLimit": r.speed_limit}  # fmt: skip
        relationships: dict[str, str | tuple[str, ...]] = {
            "locatedIn": urn("District", r.district),
            "connectsTo": tuple(urn("RoadSegment", n) for n in r.neighbours),
            "responsibleDepartment": _dept("RoadSegment"),
        }
        yield Entity(urn("RoadSegment", r.id), TRANSPORT, "RoadSegment", r.name,
                     city.frame.line(r.ends), attributes, relationships)  # fmt: skip


def _equipment(city: GeneratedCity) -> Iterator[Entity]:
    for g in city.gateways:
        yield Entity(urn("Gateway", g.id), EQUIPMENT, "Gateway", g.name,
                     city.frame.point(g.position), {"gatewayId": g.id},
                     {"locatedIn": urn("District", g.district),
                      "responsibleDepartment": _dept("Gateway")})  # fmt: skip
    for s in city.streetlights:
        yield Entity(urn("Streetlight", s.id), EQUIPMENT, "Streetlight", s.id,
                     city.frame.point(s.position), {},
                     {"locatedIn": urn("District", s.district),
                      "refRoadSegment": urn("RoadSegment", s.segment),
                      "responsibleDepartment": _dept("Streetlight")})  # fmt: skip


def _sensor(city: GeneratedCity, urns: Mapping[str, str], placed: PlacedSensor) -> Entity:
    sensor = placed.sensor
    entity_type = KINDS[sensor.kind].sdm_type
    relationships: dict[str, str | tuple[str, ...]] = {
        "observes": urns[placed.observes],
        "locatedIn": urn("District", placed.district),
        "gateway": urn("Gateway", placed.gateway),
        "responsibleDepartment": _dept(entity_type),
    }
    if placed.mounted_on is not None:
        relationships["mountedOn"] = urns[placed.mounted_on]
    attributes = {"sensorId": sensor.id, "kind": sensor.kind, "gatewayId": placed.gateway}
    return Entity(urn(entity_type, sensor.id), EQUIPMENT, entity_type, sensor.id,
                  city.frame.point(placed.position), attributes, relationships)  # fmt: skip


def _departments(city: GeneratedCity) -> Iterator[Entity]:
    hall = centroid(city.layout.districts[len(city.layout.districts) // 2].ring)
    for d in city.departments:
        yield Entity(urn("Department", d.id), LEGAL, "Department", d.name,
                     city.frame.point(hall), {"responsibleFor": list(d.responsible_for)},
                     {})  # fmt: skip


def feature_collection(city: GeneratedCity) -> dict[str, Any]:
    """The city as one GeoJSON FeatureCollection, with a ``citytwin`` member describing it."""
    return {
        "type": "FeatureCollection",
        "citytwin": {
            "format": FORMAT,
            "seed": city.seed,
            "city": city.site.name,
            "utcOffsetHours": city.site.utc_offset_h,
            "sensors": len(city.sensors),
            "categories": list(CATEGORIES),
        },
        "features": [e.feature() for e in entities(city)],
    }


def dumps(city: GeneratedCity) -> str:
    """The FeatureCollection as JSON text, the same bytes for the same city."""
    return json.dumps(feature_collection(city), indent=1, ensure_ascii=False) + "\n"
