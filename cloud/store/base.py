"""The one storage interface the routers see; SQLite implements it today, PostgreSQL later.

Every method either completes or raises StoreError with nothing half-written: an ingest is
one transaction, deduplicated on (gateway, seq).
"""

from __future__ import annotations

import abc
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Generic, Self, TypeVar

from cloud.city import SeedEntity
from cloud.credentials import ApiKey, Enrollment, GatewayToken
from cloud.fleet import Gateway
from cloud.geo import Box
from cloud.history import History, HistoryQuery
from cloud.incidents import Action, Incident
from cloud.kpis import KpiInputs
from cloud.rules import Finding, Heard, Ruled
from cloud.twin import Entity, Incoming, MetricState
from shared.wire.uplink import Batch, DesiredState

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class IngestOutcome:
    """What an ingest did: new records kept, re-sent ones ignored, the gateway's desired state."""

    accepted: int
    duplicates: int
    desired: DesiredState


@dataclass(frozen=True, slots=True)
class Near:
    """Entities within ``max_distance_m`` metres of a point, nearest first."""

    lon: float
    lat: float
    max_distance_m: float


@dataclass(frozen=True, slots=True)
class EntityQuery:
    """Filters and paging of an entity listing (None: any)."""

    kind: str | None = None
    type: str | None = None
    category: str | None = None
    gateway: str | None = None
    district: str | None = None
    bbox: Box | None = None
    near: Near | None = None
    limit: int = 100
    offset: int = 0


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    """One page of a listing and the number of matches over all pages."""

    items: tuple[T, ...]
    total: int


@dataclass(frozen=True, slots=True)
class IncidentQuery:
    """Filters and paging of an incident listing (None: any)."""

    state: str | None = None
    department: str | None = None
    entity: str | None = None
    limit: int = 100
    offset: int = 0


@dataclass(frozen=True, slots=True)
class Change:
    """An operator's action on an incident, as the audit trail records it."""

    actor: str
    action: Action
    at: float
    detail: str = ""
    assignee: str | None = None


@dataclass(frozen=True, slots=True)
class Live:
    """Where an entity stands (what the event stream filters on) and its live status."""

    id: str
    type: str
    district: str | None
    department: str | None
    status: Mapping[str, MetricState]


@dataclass(frozen=True, slots=True)
class Listening:
    """The fan-out listens from now on; ``down_s``: for how long it could not (None: at first).

    After a loss (``down_s`` set), notices sent meanwhile were missed.
    """

    down_s: float | None


class Fanout(abc.ABC):
    """Short notices between the processes that share one store (what each one changed).

    Delivery is at most once, in order per sender, to every process listening at the time.
    """

    max_bytes: int
    """The largest notice ``send`` takes, in UTF-8 bytes."""

    @abc.abstractmethod
    async def send(self, notices: Sequence[str]) -> None:
        """Send ``notices`` (each small: a few kB) to every listening process, this one too."""

    @abc.abstractmethod
    def receive(self) -> AsyncIterator[str | Listening]:
        """Notices as they arrive, forever; ``Listening`` whenever the link is (again) up."""


class Store(abc.ABC):
    """Storage of the twin: opened once per app lifespan, used by async routes."""

    def fanout(self) -> Fanout | None:
        """Notices to the other processes of this store; None when it serves one process."""
        return None

    async def __aenter__(self) -> Self:
        await self.open()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    @abc.abstractmethod
    async def open(self) -> None:
        """Connect and bring the schema up to date."""

    @abc.abstractmethod
    async def close(self) -> None:
        """Finish queued writes and release connections."""

    @abc.abstractmethod
    async def ingest(self, batch: Batch, received_at: float) -> IngestOutcome:
        """Apply the batch's new records in one transaction; re-sent ones change nothing."""

    @abc.abstractmethod
    async def entities(self, query: EntityQuery) -> Page[Entity]:
        """Entities matching ``query``, ordered by id, with their live status."""

    @abc.abstractmethod
    async def entity(self, entity_id: str) -> Entity | None:
        """One entity with its live status, or None."""

    @abc.abstractmethod
    async def incoming(self, entity_id: str, limit: int) -> Page[Incoming]:
        """Relationships of other entities that point at ``entity_id``."""

    @abc.abstractmethod
    async def seed(self, entities: Sequence[SeedEntity], at: float) -> int:
        """Add or update entities from a city file; live status and first_seen are kept."""

    @abc.abstractmethod
    async def history(self, query: HistoryQuery) -> History | None:
        """One metric of one entity at a step, or None if there is no such entity."""

    @abc.abstractmethod
    async def incidents(self, query: IncidentQuery) -> Page[Incident]:
        """Incidents matching ``query``, the most recently changed first."""

    @abc.abstractmethod
    async def incident(self, incident_id: int) -> Incident | None:
        """One incident with its audit trail, or None."""

    @abc.abstractmethod
    async def act(self, incident_id: int, change: Change) -> Incident:
        """Apply an operator's change; NoSuchIncident or InvalidTransition if it cannot be."""

    @abc.abstractmethod
    async def gateways(self, limit: int, offset: int) -> Page[Gateway]:
        """Gateways ordered by id, with their newest heartbeat."""

    # Credentials: only digests are stored (cloud/credentials.py); revoked rows are kept.

    @abc.abstractmethod
    async def add_key(self, key: ApiKey) -> None:
        """Store a new API key."""

    @abc.abstractmethod
    async def key(self, key_id: str) -> ApiKey | None:
        """One API key, revoked or not, or None."""

    @abc.abstractmethod
    async def keys(self, limit: int, offset: int) -> Page[ApiKey]:
        """API keys, the newest first."""

    @abc.abstractmethod
    async def revoke_key(self, key_id: str, at: float) -> ApiKey | None:
        """Revoke a key (again: no change); None if there is no such key."""

    @abc.abstractmethod
    async def register_gateway(self, enrollment: Enrollment) -> None:
        """Store a gateway's new enrollment code, replacing any earlier one."""

    @abc.abstractmethod
    async def enrollment(self, gateway: str) -> Enrollment | None:
        """The gateway's newest enrollment, or None if it was never registered."""

    @abc.abstractmethod
    async def redeem(self, code_digest: str, token: GatewayToken, at: float) -> bool:
        """Atomically spend the gateway's unused, unexpired code and store its new token
        (revoking the old); False if the code is not good."""

    @abc.abstractmethod
    async def gateway_token(self, token_id: str) -> GatewayToken | None:
        """One gateway token, revoked or not, or None."""

    @abc.abstractmethod
    async def revoke_gateway(self, gateway: str, at: float) -> int | None:
        """Revoke the gateway's tokens and void its unused code: the count of tokens revoked,
        None if the gateway was never registered."""

    @abc.abstractmethod
    async def has_credentials(self) -> bool:
        """Whether any API key or gateway registration was ever stored."""

    @abc.abstractmethod
    async def kpi_inputs(self, district: str | None, at: float) -> KpiInputs:
        """Districts (the one given, or all) and the KPI sensors in them, now and an hour before."""

    @abc.abstractmethod
    async def live(self, entity_ids: Sequence[str]) -> Mapping[str, Live]:
        """District, department and live status of those of ``entity_ids`` that exist."""

    @abc.abstractmethod
    async def silence(self, before: float) -> Mapping[str, Heard]:
        """Newest observation and gateway of each sensor silent since ``before`` or with an
        active sensor:silent incident (sensors that never reported are left out)."""

    @abc.abstractmethod
    async def apply_findings(self, findings: Sequence[Finding], at: float) -> Sequence[Ruled]:
        """Apply cloud rules' findings to incidents in one transaction (cloud/rules.py)."""

    @abc.abstractmethod
    async def check(self) -> None:
        """Raise StoreError unless the store can serve reads now."""
