"""Pure: the simulator's city file (``citytwin sim city``, docs/simulator.md) -> entities to seed.

The file is an RFC 7946 FeatureCollection; each Feature is one entity with a URN id, a
category, a type, a geometry, static attributes and relationships by id. A sensor's id is the
one ingest derives from its readings, so seeding and live data meet on the same row.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from cloud import geo

CATEGORIES: Final = (
    "management_entities",
    "natural_entities",
    "buildings_and_structures",
    "means_of_transportation",
    "goods_and_equipment",
    "legal_persons",
    "natural_persons",
    "others",
)
Category = Literal[
    "management_entities",
    "natural_entities",
    "buildings_and_structures",
    "means_of_transportation",
    "goods_and_equipment",
    "legal_persons",
    "natural_persons",
    "others",
]
Urn = Annotated[str, Field(pattern=r"^urn:[A-Za-z0-9][A-Za-z0-9-]{0,31}:\S+$", max_length=256)]
DISTRICT_PREFIX: Final = "urn:ngsi-ld:District:"


class CityFileError(ValueError):
    """The city file cannot be read, or breaks its format (the message says where)."""


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)


class _Properties(_Strict):
    category: Category
    type: Annotated[str, Field(min_length=1, max_length=64)]
    name: str | None = None
    attributes: dict[str, Any] = Field(default_factory=dict)
    relationships: dict[str, Urn | list[Urn]] = Field(default_factory=dict)


class _Feature(_Strict):
    type: Literal["Feature"]
    id: Urn
    geometry: dict[str, Any] | None
    properties: _Properties


class _CityFile(BaseModel):
    # Other members (the ``citytwin`` description, a bbox) are allowed by RFC 7946.
    model_config = ConfigDict(frozen=True, extra="allow")

    type: Literal["FeatureCollection"]
    features: list[_Feature]


@dataclass(frozen=True, slots=True)
class SeedEntity:
    """One entity of the city file, ready to store."""

    id: str
    type: str
    category: str
    name: str | None
    location: Mapping[str, Any] | None
    bounds: geo.Box | None
    attributes: Mapping[str, Any]
    relationships: Mapping[str, tuple[str, ...]]
    sensor: str | None
    kind: str | None
    gateway: str | None
    district: str | None


def load(path: Path) -> tuple[SeedEntity, ...]:
    """The entities of the city file at ``path``."""
    try:
        text = path.read_bytes()
    except OSError as exc:
        raise CityFileError(f"cannot read {path}: {exc.strerror}") from exc
    return parse(text)


def parse(text: bytes | str) -> tuple[SeedEntity, ...]:
    """The entities of a city file's JSON text."""
    try:
        data = _CityFile.model_validate_json(text)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        where = ".".join(str(p) for p in first["loc"]) or "file"
        raise CityFileError(f"not a city file: {where}: {first['msg']}") from exc
    seen: set[str] = set()
    out = []
    for number, feature in enumerate(data.features):
        if feature.id in seen:
            raise CityFileError(f"features.{number}: id {feature.id!r} appears twice")
        seen.add(feature.id)
        out.append(_entity(number, feature))
    return tuple(out)


def _entity(number: int, feature: _Feature) -> SeedEntity:
    props = feature.properties
    box = None
    if feature.geometry is not None:
        try:
            box = geo.bounds(feature.geometry)
            geo.distance_m(box.min_lon, box.min_lat, feature.geometry)  # validates every part
        except geo.GeometryError as exc:
            raise CityFileError(f"features.{number}.geometry: {exc}") from exc
    relationships = {
        name: tuple(value) if isinstance(value, list) else (value,)
        for name, value in props.relationships.items()
    }
    located = relationships.get("locatedIn", ())
    attrs = props.attributes
    return SeedEntity(
        id=feature.id,
        type=props.type,
        category=props.category,
        name=props.name,
        location=feature.geometry,
        bounds=box,
        attributes=attrs,
        relationships=relationships,
        sensor=_text(attrs.get("sensorId")),
        kind=_text(attrs.get("kind")) if "sensorId" in attrs else None,
        gateway=_text(attrs.get("gatewayId")) if "sensorId" in attrs else None,
        district=next((r for r in located if r.startswith(DISTRICT_PREFIX)), None),
    )


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None


def dumps_location(location: Mapping[str, Any] | None) -> str | None:
    """A geometry as stored: compact JSON."""
    return None if location is None else json.dumps(location, separators=(",", ":"))
