"""Public response models of the HTTP API: what clients see, apart from how it is stored."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from cloud import fleet, twin
from shared.wire.uplink import DesiredState, Heartbeat


class _Public(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class MetricStatusPublic(_Public):
    """The newest value of one metric; ``observed_at`` in UTC epoch seconds."""

    value: float
    observed_at: float
    unit: str | None


class EntityPublic(_Public):
    """One entity of the twin with its live status."""

    id: str
    sensor: str
    kind: str
    type: str
    category: str
    gateway: str
    location: dict[str, Any] | None
    attributes: dict[str, Any]
    first_seen: float
    updated_at: float
    status: dict[str, MetricStatusPublic]

    @classmethod
    def of(cls, entity: twin.Entity) -> EntityPublic:
        """The public view of ``entity``."""
        status = {
            metric: MetricStatusPublic(value=s.value, observed_at=s.observed_at, unit=s.unit)
            for metric, s in entity.status.items()
        }
        return cls(
            id=entity.id,
            sensor=entity.sensor,
            kind=entity.kind,
            type=entity.type,
            category=entity.category,
            gateway=entity.gateway,
            location=dict(entity.location) if entity.location is not None else None,
            attributes=dict(entity.attributes),
            first_seen=entity.first_seen,
            updated_at=entity.updated_at,
            status=status,
        )


class EntityPage(_Public):
    """One page of entities and the number of matches over all pages."""

    items: list[EntityPublic]
    total: int


class GatewayPublic(_Public):
    """One gateway: its status derived from heartbeat age, and what it reported last."""

    id: str
    status: fleet.Status
    first_seen: float
    last_seen: float
    heartbeat_at: float | None
    heartbeat_age_s: float | None
    buffer_depth: int | None
    oldest_unsent_age_s: float | None
    heartbeat: Heartbeat | None
    desired: DesiredState

    @classmethod
    def of(
        cls, gateway: fleet.Gateway, now: float, stale_s: float, offline_s: float
    ) -> GatewayPublic:
        """The public view of ``gateway`` at time ``now``."""
        age = max(0.0, now - gateway.heartbeat_at) if gateway.heartbeat_at is not None else None
        hb = gateway.heartbeat
        return cls(
            id=gateway.id,
            status=fleet.status(age, stale_s, offline_s),
            first_seen=gateway.first_seen,
            last_seen=gateway.last_seen,
            heartbeat_at=gateway.heartbeat_at,
            heartbeat_age_s=age,
            buffer_depth=hb.buffer_depth if hb is not None else None,
            oldest_unsent_age_s=hb.oldest_unsent_age_s if hb is not None else None,
            heartbeat=hb,
            desired=gateway.desired,
        )


class GatewayPage(_Public):
    """One page of gateways and the total number of gateways."""

    items: list[GatewayPublic]
    total: int


class Health(_Public):
    """The aggregator can serve: the store answers reads."""

    status: Literal["ok"] = "ok"
    version: str
