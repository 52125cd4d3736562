"""The one storage interface the routers see; SQLite implements it today, PostgreSQL later.

Every method either completes or raises StoreError with nothing half-written: an ingest is
one transaction, deduplicated on (gateway, seq).
"""

from __future__ import annotations

import abc
from dataclasses import dataclass
from types import TracebackType
from typing import Generic, Self, TypeVar

from cloud.fleet import Gateway
from cloud.twin import Entity
from shared.wire.uplink import Batch, DesiredState

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class IngestOutcome:
    """What an ingest did: new records kept, re-sent ones ignored, the gateway's desired state."""

    accepted: int
    duplicates: int
    desired: DesiredState


@dataclass(frozen=True, slots=True)
class EntityQuery:
    """Filters and paging of an entity listing (None: any)."""

    kind: str | None = None
    type: str | None = None
    gateway: str | None = None
    limit: int = 100
    offset: int = 0


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    """One page of a listing and the number of matches over all pages."""

    items: tuple[T, ...]
    total: int


class Store(abc.ABC):
    """Storage of the twin: opened once per app lifespan, used by async routes."""

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
    async def gateways(self, limit: int, offset: int) -> Page[Gateway]:
        """Gateways ordered by id, with their newest heartbeat."""

    @abc.abstractmethod
    async def check(self) -> None:
        """Raise StoreError unless the store can serve reads now."""
