"""Public response models of the HTTP API: what clients see, apart from how it is stored."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Literal

from fastapi import Path, Query
from pydantic import BaseModel, ConfigDict, Field

from cloud import fleet, history, incidents, twin
from cloud.store.base import Page
from shared.wire.uplink import DesiredState, Heartbeat

# The store's integers are 64-bit: a larger id or offset is a 422 here, not an overflow there.
MAX_INT = 2**63 - 1
Limit = Annotated[int, Query(ge=1, le=1000, description="items per page")]
Offset = Annotated[int, Query(ge=0, le=MAX_INT, description="matches skipped before the page")]
IncidentId = Annotated[int, Path(ge=1, le=MAX_INT, description="the incident's number")]


class _Public(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class MetricStatusPublic(_Public):
    """The newest value of one metric; ``observed_at`` in UTC epoch seconds."""

    value: float
    observed_at: float
    unit: str | None


class EntityPublic(_Public):
    """One entity of the twin with its relationships and live status."""

    id: str
    type: str
    category: str
    name: str | None
    sensor: str | None
    kind: str | None
    gateway: str | None
    district: str | None
    location: dict[str, Any] | None
    attributes: dict[str, Any]
    relationships: dict[str, str | list[str]]
    first_seen: float
    updated_at: float
    status: dict[str, MetricStatusPublic]
    distance_m: float | None = None

    @classmethod
    def of(cls, entity: twin.Entity) -> EntityPublic:
        """The public view of ``entity``."""
        return cls(**_entity_fields(entity))


def _entity_fields(entity: twin.Entity) -> dict[str, Any]:
    status = {
        metric: MetricStatusPublic(value=s.value, observed_at=s.observed_at, unit=s.unit)
        for metric, s in entity.status.items()
    }
    # A relationship with one target reads as a string, as in the city file.
    relationships = {k: v[0] if len(v) == 1 else list(v) for k, v in entity.relationships.items()}
    return {
        "id": entity.id,
        "type": entity.type,
        "category": entity.category,
        "name": entity.name,
        "sensor": entity.sensor,
        "kind": entity.kind,
        "gateway": entity.gateway,
        "district": entity.district,
        "location": dict(entity.location) if entity.location is not None else None,
        "attributes": dict(entity.attributes),
        "relationships": relationships,
        "first_seen": entity.first_seen,
        "updated_at": entity.updated_at,
        "status": status,
        "distance_m": entity.distance_m,
    }


class IncomingPublic(_Public):
    """Another entity's relationship to this one: ``subject`` --name--> this entity."""

    subject: str
    name: str


class EntityDetail(EntityPublic):
    """One entity, with the relationships other entities have to it."""

    incoming: list[IncomingPublic]
    incoming_total: int

    @classmethod
    def with_incoming(cls, entity: twin.Entity, incoming: Page[twin.Incoming]) -> EntityDetail:
        """The detailed view of ``entity``."""
        links = [IncomingPublic(subject=i.subject, name=i.name) for i in incoming.items]
        return cls(**_entity_fields(entity), incoming=links, incoming_total=incoming.total)


class PointPublic(_Public):
    """One step of a history: statistics of the readings in it, or null where there were none.

    ``gap`` is true when the step has no data or when the gateway reported data missing in it;
    ``gap_reasons`` says why (``no_data``, ``shed``, ``sequence_gap``, ``dead_letter``).
    """

    start: float
    end: float
    count: int
    mean: float | None
    min: float | None
    max: float | None
    variance: float | None
    sum: float | None
    anomalies: int
    gap: bool
    gap_reasons: list[str]

    @classmethod
    def of(cls, point: history.Point) -> PointPublic:
        """The public view of one step."""
        s = point.stats
        return cls(
            start=point.start,
            end=point.end,
            count=s.count if s is not None else 0,
            mean=s.mean if s is not None else None,
            min=s.low if s is not None else None,
            max=s.high if s is not None else None,
            variance=s.variance if s is not None else None,
            sum=s.total if s is not None else None,
            anomalies=point.anomalies,
            gap=bool(point.gaps),
            gap_reasons=list(point.gaps),
        )


class HistoryPublic(_Public):
    """A metric of an entity over [start, end) in steps of ``step`` seconds."""

    entity: str
    metric: str
    unit: str | None
    start: float
    end: float
    step: float
    points: list[PointPublic]

    @classmethod
    def of(cls, found: history.History) -> HistoryPublic:
        """The public view of a history."""
        q = found.query
        return cls(
            entity=q.entity,
            metric=q.metric,
            unit=found.unit,
            start=q.start,
            end=q.end,
            step=q.step,
            points=[PointPublic.of(p) for p in found.points],
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


class EventPublic(_Public):
    """One line of an incident's audit trail."""

    at: float
    actor: str
    action: incidents.Action
    detail: str


class IncidentPublic(_Public):
    """Alerts of one entity and cause, routed to a department, with their lifecycle."""

    id: int
    entity: str
    cause: str
    department: str | None
    state: incidents.State
    severity: str
    assignee: str | None
    alerts: int
    first_alert_at: float
    last_alert_at: float
    last_value: float
    opened_at: float
    updated_at: float
    events: list[EventPublic] | None = None

    @classmethod
    def of(cls, found: incidents.Incident, *, events: bool = False) -> IncidentPublic:
        """The public view of an incident, with its audit trail if ``events``."""
        trail = [
            EventPublic(at=e.at, actor=e.actor, action=e.action, detail=e.detail)
            for e in found.events
        ]
        return cls(
            id=found.id, entity=found.entity, cause=found.cause, department=found.department,
            state=found.state, severity=found.severity, assignee=found.assignee,
            alerts=found.alerts, first_alert_at=found.first_alert_at,
            last_alert_at=found.last_alert_at, last_value=found.last_value,
            opened_at=found.opened_at, updated_at=found.updated_at,
            events=trail if events else None,
        )  # fmt: skip


class IncidentPage(_Public):
    """One page of incidents and the number of matches over all pages."""

    items: list[IncidentPublic]
    total: int


class _Request(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ActionCreate(_Request):
    """Acknowledge or resolve: who does it, and an optional note for the audit trail."""

    by: Annotated[str, Field(min_length=1, max_length=100)]
    note: Annotated[str, Field(max_length=2000)] = ""


class AssignCreate(_Request):
    """Give an incident to someone."""

    by: Annotated[str, Field(min_length=1, max_length=100)]
    assignee: Annotated[str, Field(min_length=1, max_length=100)]


class CommentCreate(_Request):
    """A comment on an incident."""

    by: Annotated[str, Field(min_length=1, max_length=100)]
    text: Annotated[str, Field(min_length=1, max_length=2000)]


class ErrorPublic(_Public):
    """A refused or failed request: what is wrong, in words."""

    detail: str


class FieldErrorPublic(BaseModel):
    """One part of a request that breaks the OpenAPI document, as FastAPI reports it."""

    # Open: FastAPI adds ``input``, ``ctx`` and the like as the error calls for.
    model_config = ConfigDict(frozen=True, extra="allow")

    loc: list[str | int]
    msg: str
    type: str


class InvalidPublic(_Public):
    """A 422: a message from the route, or one entry per part that breaks the document."""

    detail: str | list[FieldErrorPublic]


Responses = dict[int | str, dict[str, Any]]


def errors(described: Mapping[int, str]) -> Responses:
    """A route's ``responses``: each error status, what it means there, and its body."""
    return {
        status: {"model": _body(status), "description": text} for status, text in described.items()
    }


def json_errors(described: Mapping[int, str]) -> Responses:
    """``errors`` for a route whose own answer is not JSON (the event stream).

    FastAPI documents a ``model`` in the route's media type, so these name the JSON bodies by
    reference instead; the schemas are in the document through the routes of ``errors``.
    """
    return {
        status: {
            "description": text,
            "content": {"application/json": {"schema": {"$ref": _ref(_body(status))}}},
        }
        for status, text in described.items()
    }


def _body(status: int) -> type[_Public]:
    return InvalidPublic if status == 422 else ErrorPublic


def _ref(model: type[BaseModel]) -> str:
    return f"#/components/schemas/{model.__name__}"


# What the auth dependencies of cloud.deps answer, by the role a route takes.
_NO_CREDENTIAL = {401: "No credential, or an unknown or revoked one"}
READER_ERRORS = {**_NO_CREDENTIAL, 403: "A gateway token: reading needs an API key"}
OPERATOR_ERRORS = {**_NO_CREDENTIAL, 403: "Not an operator or admin key"}
ADMIN_ERRORS = {**_NO_CREDENTIAL, 403: "Not an admin key"}
GATEWAY_ERRORS = {**_NO_CREDENTIAL, 403: "Not a gateway token, or another gateway's"}
NOT_JSON = {400: "The body is not JSON"}
