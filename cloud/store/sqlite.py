"""The Store on one SQLite file: one writer thread, pooled readers, WAL between them."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import Sequence
from pathlib import Path

from cloud.city import SeedEntity
from cloud.errors import StoreError
from cloud.fleet import Gateway
from cloud.history import History, HistoryQuery
from cloud.incidents import Incident
from cloud.store import history, incidents, reads, seeding, writes
from cloud.store.base import (
    Change,
    EntityQuery,
    IncidentQuery,
    IngestOutcome,
    Page,
    Store,
)
from cloud.store.readers import Readers
from cloud.store.schema import migrate
from cloud.store.writer import Writer
from cloud.twin import Entity, Incoming
from shared.wire.uplink import Batch

log = logging.getLogger(__name__)


class SqliteStore(Store):
    """The twin in a SQLite file; nothing is opened until ``open()``."""

    def __init__(self, path: Path, *, write_queue: int = 32) -> None:
        self.path = path
        self._writer = Writer(path, queue_size=write_queue)
        self._readers = Readers(path)

    async def open(self) -> None:
        """Migrate the schema, start the writer, allow reads."""
        try:
            await asyncio.to_thread(migrate, self.path)
            await asyncio.to_thread(self._writer.start)
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open database {self.path}: {exc}") from exc
        self._readers.open()
        log.info("store open: %s", self.path)

    async def close(self) -> None:
        """Finish queued writes, then close every connection."""
        self._readers.close()
        await asyncio.to_thread(self._writer.close)
        log.info("store closed: %s", self.path)

    async def ingest(self, batch: Batch, received_at: float) -> IngestOutcome:
        """Apply the batch's new records in one transaction on the writer thread."""
        return await self._writer.run(lambda conn: writes.ingest(conn, batch, received_at))

    async def entities(self, query: EntityQuery) -> Page[Entity]:
        """Entities matching ``query``, with their live status."""
        return await self._readers.run(lambda conn: reads.entities(conn, query))

    async def entity(self, entity_id: str) -> Entity | None:
        """One entity with its live status, or None."""
        return await self._readers.run(lambda conn: reads.entity(conn, entity_id))

    async def incoming(self, entity_id: str, limit: int) -> Page[Incoming]:
        """Relationships of other entities that point at ``entity_id``."""
        return await self._readers.run(lambda conn: reads.incoming(conn, entity_id, limit))

    async def seed(self, entities: Sequence[SeedEntity], at: float) -> int:
        """Add or update entities from a city file in one transaction."""
        return await self._writer.run(lambda conn: seeding.seed(conn, entities, at))

    async def history(self, query: HistoryQuery) -> History | None:
        """One metric of one entity at a step, or None if there is no such entity."""
        return await self._readers.run(lambda conn: history.read(conn, query))

    async def incidents(self, query: IncidentQuery) -> Page[Incident]:
        """Incidents matching ``query``, the most recently changed first."""
        return await self._readers.run(
            lambda conn: incidents.page(
                conn,
                state=query.state,
                department=query.department,
                entity=query.entity,
                limit=query.limit,
                offset=query.offset,
            )
        )

    async def incident(self, incident_id: int) -> Incident | None:
        """One incident with its audit trail, or None."""
        return await self._readers.run(lambda conn: incidents.one(conn, incident_id))

    async def act(self, incident_id: int, change: Change) -> Incident:
        """Apply an operator's change in one transaction on the writer thread."""
        return await self._writer.run(
            lambda conn: incidents.act(
                conn,
                incident_id,
                change.actor,
                change.action,
                change.at,
                detail=change.detail,
                assignee=change.assignee,
            )
        )

    async def gateways(self, limit: int, offset: int) -> Page[Gateway]:
        """Gateways with their newest heartbeat."""
        return await self._readers.run(lambda conn: reads.gateways(conn, limit, offset))

    async def check(self) -> None:
        """Raise StoreError unless a read succeeds now."""
        await self._readers.run(reads.check)

    @property
    def write_queue_depth(self) -> int:
        """Write jobs waiting for the writer thread."""
        return self._writer.depth
