"""Pure rules of the city twin: how a sensor becomes an entity and what its live status is."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from shared import catalogue

GOODS_AND_EQUIPMENT: Final = "goods_and_equipment"
# A kind this cloud's catalogue does not know (a newer gateway) is kept, as a generic device.
FALLBACK_TYPE: Final = "Device"


@dataclass(frozen=True, slots=True)
class MetricState:
    """The newest known value of one metric of one entity."""

    value: float
    observed_at: float
    unit: str | None


@dataclass(frozen=True, slots=True)
class Entity:
    """One thing in the twin, with its static attributes and live status."""

    id: str
    type: str
    category: str
    name: str | None
    # Set for sensors only: the wire's sensor id and kind, and the gateway that reports it.
    sensor: str | None
    kind: str | None
    gateway: str | None
    district: str | None
    location: Mapping[str, Any] | None
    attributes: Mapping[str, Any]
    relationships: Mapping[str, tuple[str, ...]]
    first_seen: float
    updated_at: float
    status: Mapping[str, MetricState]
    distance_m: float | None = None  # from the point of a ``near`` query


@dataclass(frozen=True, slots=True)
class Incoming:
    """A relationship pointing at an entity: ``subject`` --name--> the entity."""

    subject: str
    name: str


def entity_type(kind: str) -> str:
    """The Smart Data Model type of a sensor kind."""
    known = catalogue.kind(kind)
    return known.sdm_type if known is not None else FALLBACK_TYPE


def entity_id(kind: str, sensor: str) -> str:
    """The NGSI-LD identifier of a sensor's entity: ``urn:ngsi-ld:<type>:<sensor>``."""
    return f"urn:ngsi-ld:{entity_type(kind)}:{sensor}"


def unit(kind: str | None, metric: str) -> str | None:
    """The unit of ``metric`` for sensors of ``kind``, if the catalogue knows it."""
    known = catalogue.kind(kind) if kind is not None else None
    found = known.metric(metric) if known is not None else catalogue.DEVICE_METRICS.get(metric)
    return found.unit if found is not None else None
