"""The Store on one SQLite file: one writer thread, pooled readers, WAL between them."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import Mapping, Sequence
from pathlib import Path

from cloud.city import SeedEntity
from cloud.credentials import ApiKey, Enrollment, GatewayToken
from cloud.errors import StoreError
from cloud.fleet import Gateway
from cloud.history import History, HistoryQuery
from cloud.incidents import Incident
from cloud.kpis import KpiInputs
from cloud.rules import Finding, Heard, Ruled
from cloud.store import (
    credentials,
    history,
    incidents,
    kpis,
    live,
    reads,
    rules,
    seeding,
    writes,
)
from cloud.store.base import (
    Change,
    EntityQuery,
    IncidentQuery,
    IngestOutcome,
    Live,
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

    async def add_key(self, key: ApiKey) -> None:
        """Store a new API key."""
        await self._writer.run(lambda conn: credentials.add_key(conn, key))

    async def key(self, key_id: str) -> ApiKey | None:
        """One API key, revoked or not, or None."""
        return await self._readers.run(lambda conn: credentials.key(conn, key_id))

    async def keys(self, limit: int, offset: int) -> Page[ApiKey]:
        """API keys, the newest first."""
        return await self._readers.run(lambda conn: credentials.keys(conn, limit, offset))

    async def revoke_key(self, key_id: str, at: float) -> ApiKey | None:
        """Revoke a key; None if there is no such key."""
        return await self._writer.run(lambda conn: credentials.revoke_key(conn, key_id, at))

    async def register_gateway(self, enrollment: Enrollment) -> None:
        """Store a gateway's new enrollment code, replacing any earlier one."""
        await self._writer.run(lambda conn: credentials.register(conn, enrollment))

    async def enrollment(self, gateway: str) -> Enrollment | None:
        """The gateway's newest enrollment, or None."""
        return await self._readers.run(lambda conn: credentials.enrollment(conn, gateway))

    async def redeem(self, code_digest: str, token: GatewayToken, at: float) -> bool:
        """Spend the gateway's code and store its new token, in one transaction."""
        return await self._writer.run(lambda conn: credentials.redeem(conn, code_digest, token, at))

    async def gateway_token(self, token_id: str) -> GatewayToken | None:
        """One gateway token, revoked or not, or None."""
        return await self._readers.run(lambda conn: credentials.gateway_token(conn, token_id))

    async def revoke_gateway(self, gateway: str, at: float) -> int | None:
        """Revoke the gateway's tokens and void its unused code."""
        return await self._writer.run(lambda conn: credentials.revoke_gateway(conn, gateway, at))

    async def has_credentials(self) -> bool:
        """Whether any API key or gateway registration was ever stored."""
        return await self._readers.run(credentials.has_credentials)

    async def kpi_inputs(self, district: str | None, at: float) -> KpiInputs:
        """The KPI sensors of one district or all, with their values now and an hour before."""
        return await self._readers.run(lambda conn: kpis.inputs(conn, district, at))

    async def live(self, entity_ids: Sequence[str]) -> Mapping[str, Live]:
        """District, department and live status of those of ``entity_ids`` that exist."""
        return await self._readers.run(lambda conn: live.live(conn, entity_ids))

    async def silence(self, before: float) -> Mapping[str, Heard]:
        """Newest observation and gateway of sensors silent since ``before`` or marked silent."""
        return await self._readers.run(lambda conn: rules.silence(conn, before))

    async def apply_findings(self, findings: Sequence[Finding], at: float) -> Sequence[Ruled]:
        """Apply cloud rules' findings to incidents in one transaction."""
        return await self._writer.run(lambda conn: rules.apply(conn, findings, at))

    async def check(self) -> None:
        """Raise StoreError unless a read succeeds now."""
        await self._readers.run(reads.check)

    @property
    def write_queue_depth(self) -> int:
        """Write jobs waiting for the writer thread."""
        return self._writer.depth
