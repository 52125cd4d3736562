"""What the live stream says: events built after a commit, from what the store holds then.

    after_ingest   notes what the batch set for the TwinTicker, which publishes one ``twin``
                   event per changed entity every 250 ms (a backfill that changed nothing live
                   says nothing); ``incident`` events for incidents the batch opened or
                   joined, and a ``gateway`` event for its heartbeat, at once
    after_action   an ``incident`` event for an operator's change
    apply          the same events for what another process on the database committed
    watch_fleet    ``gateway`` events as gateways turn STALE or OFFLINE with time (each
                   process derives them from the shared database itself)

Each reads the store once after the commit, and only while the bus is listening, so ingest
pays nothing when nobody watches. A failed read loses the events, never the commit: the bus
is told (``skipped``), so a reconnecting client is sent a resync instead of a silent hole.
A store shared by several processes (PostgreSQL) has a fan-out: what a commit changed is
also put in the Outbox for the others, whoever listens here (cloud/fanout.py).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from functools import partial
from typing import Annotated, Literal, cast

from fastapi import Depends, Request
from pydantic import BaseModel, ConfigDict

from cloud import fanout, fleet, twin
from cloud.errors import CloudError
from cloud.events import Bus, Kind
from cloud.fanout import Acted, Alerted, Beat, Newest, Note, Outbox
from cloud.incidents import Action, Incident
from cloud.models import IncidentPublic
from cloud.settings import CloudSettings
from cloud.store import IncidentQuery, Store
from cloud.store.base import Fanout, Live
from shared.wire.uplink import Alert, Batch, Heartbeat, Summary

log = logging.getLogger(__name__)

GATEWAY_PREFIX = "urn:ngsi-ld:Gateway:"
# Twin changes are published at most this often: one event per changed entity per tick; the
# fan-out sends what this process changed to the others as often.
TWIN_TICK_S = 0.25
# How long start-up waits for the fan-out to listen, so a ready process hears the others.
LISTEN_WAIT_S = 5.0


class _Payload(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class MetricChange(_Payload):
    """The live value of one metric, observed at ``observed_at`` (UTC epoch seconds)."""

    value: float
    observed_at: float
    unit: str | None


class TwinChange(_Payload):
    """``twin``: metrics of an entity whose live status changed, newest value of each."""

    entity: str
    type: str
    district: str | None
    department: str | None
    status: dict[str, MetricChange]

    def coalesce(self, older: TwinChange) -> TwinChange:
        """Both events' metrics, the newer observation of each."""
        merged = dict(older.status)
        for metric, change in self.status.items():
            known = merged.get(metric)
            if known is None or change.observed_at >= known.observed_at:
                merged[metric] = change
        return self.model_copy(update={"status": merged})


class IncidentChange(_Payload):
    """``incident``: an incident as it is now, and what just happened to it."""

    change: Action
    district: str | None
    incident: IncidentPublic

    def coalesce(self, older: IncidentChange) -> IncidentChange:
        """The newer state; an incident the client has not seen yet stays ``opened``."""
        if older.change is Action.OPENED:
            return self.model_copy(update={"change": Action.OPENED})
        return self


class GatewayChange(_Payload):
    """``gateway``: a gateway's status, on a heartbeat or when its status changes with time."""

    change: Literal["heartbeat", "status"]
    gateway: str
    district: str | None
    status: fleet.Status
    heartbeat_at: float | None
    buffer_depth: int | None
    oldest_unsent_age_s: float | None

    def coalesce(self, older: GatewayChange) -> GatewayChange:
        """The newer state; a status change stays one until the client has seen it."""
        if older.change == "status" and older.status != self.status:
            return self.model_copy(update={"change": "status"})
        return self


class TwinTicker:
    """Gathers the entities that batches changed; publishes their twin events once per tick.

    One store read per tick for every entity changed in it, however many batches changed
    them: a busy ingest costs the stream a few reads a second, not one per batch.
    """

    def __init__(self, bus: Bus, store: Store) -> None:
        self._bus = bus
        self._store = store
        self._pending: Newest = {}

    def note(self, newest: Newest) -> None:
        """Remember what a committed batch set, for the next tick."""
        for entity, metrics in newest.items():
            known = self._pending.setdefault(entity, {})
            for metric, at in metrics.items():
                known[metric] = max(at, known.get(metric, at))

    async def run(self, tick_s: float) -> None:
        """Publish every ``tick_s``, forever (the task's supervisor)."""
        while True:
            await asyncio.sleep(tick_s)
            try:
                await self.flush()
            except Exception:  # the supervisor of this task: log, and go on next tick
                log.exception("stream: publishing twin changes failed")

    async def flush(self) -> None:
        """Publish the twin events of what was noted since the last flush."""
        pending, self._pending = self._pending, {}
        if not pending:
            return
        try:
            found = await self._store.live(list(pending))
        except CloudError as exc:
            log.warning("stream: lost the twin changes of %d entities: %s", len(pending), exc)
            self._bus.skipped()
            return
        for entity, metrics in pending.items():
            if (live := found.get(entity)) is not None:
                _publish_twin(self._bus, live, metrics)


async def after_ingest(
    hub: Hub, store: Store, batch: Batch, received_at: float, *, accepted: int
) -> None:
    """Publish what a committed batch changed (nothing if all of it was re-sent)."""
    bus = hub.bus
    if accepted == 0:
        return
    if not bus.listening and hub.outbox is None:
        bus.skipped()
        return
    newest, entities, heartbeat = _scan(batch)
    alerted = [Alerted(entity=entity, received_at=received_at) for entity in entities]
    beat = None
    if heartbeat is not None:
        beat = Beat(
            gateway=batch.gateway, received_at=received_at,
            buffer_depth=heartbeat.buffer_depth,
            oldest_unsent_age_s=heartbeat.oldest_unsent_age_s,
        )  # fmt: skip
    if hub.outbox is not None:
        hub.outbox.add(newest, alerted, beat)
    if not bus.listening:
        bus.skipped()
        return
    hub.ticker.note(newest)
    await _publish_batch(bus, store, alerted, [beat] if beat is not None else [])


async def after_action(hub: Hub, store: Store, incident: Incident, change: Action) -> None:
    """Publish an operator's change to an incident."""
    if hub.outbox is not None:
        hub.outbox.add({}, acted=Acted(incident=incident.id, change=change))
    await _publish_action(hub.bus, store, incident, change)


async def apply(hub: Hub, store: Store, note: Note) -> None:
    """Publish what another process committed, read from the store as for a change made here."""
    bus = hub.bus
    if not bus.listening:
        bus.skipped()
        return
    hub.ticker.note(note.twin)
    await _publish_batch(bus, store, note.alerted, note.beats)
    for acted in note.acted:
        try:
            incident = await store.incident(acted.incident)
        except CloudError as exc:
            log.warning("stream: lost the event of incident %d: %s", acted.incident, exc)
            bus.skipped()
            continue
        if incident is not None:
            await _publish_action(bus, store, incident, acted.change)


async def _publish_batch(
    bus: Bus, store: Store, alerted: Sequence[Alerted], beats: Sequence[Beat]
) -> None:
    """Incident events of the alerts, gateway events of the heartbeats, of committed batches."""
    if not alerted and not beats:
        return
    try:
        found = await store.live(
            [a.entity for a in alerted] + [GATEWAY_PREFIX + b.gateway for b in beats]
        )
        touched = [await _touched(store, a.entity, a.received_at) for a in alerted]
    except CloudError as exc:
        log.warning("stream: lost the events of %d alerts: %s", len(alerted), exc)
        bus.skipped()
        return
    for alert, incidents in zip(alerted, touched, strict=True):
        for incident in incidents:
            change = Action.OPENED if incident.opened_at == alert.received_at else Action.ALERT
            _publish_incident(bus, incident, change, found.get(incident.entity))
    for beat in beats:
        _publish_heartbeat(bus, beat, found.get(GATEWAY_PREFIX + beat.gateway))


async def _publish_action(bus: Bus, store: Store, incident: Incident, change: Action) -> None:
    if not bus.listening:
        bus.skipped()
        return
    try:
        found = await store.live([incident.entity])
    except CloudError as exc:
        log.warning("stream: lost the event of incident %d: %s", incident.id, exc)
        bus.skipped()
        return
    _publish_incident(bus, incident, change, found.get(incident.entity))


def _scan(batch: Batch) -> tuple[Newest, set[str], Heartbeat | None]:
    """Per entity, the batch's newest observation time of each metric; alerted entities."""
    newest: Newest = {}
    alerted: set[str] = set()
    heartbeat: Heartbeat | None = None
    for record in batch.records:
        match record:
            case Summary():
                _observe(newest, twin.entity_id(record.kind, record.sensor), record)
            case Alert():
                entity = twin.entity_id(record.kind, record.sensor)
                _observe(newest, entity, record)
                alerted.add(entity)
            case Heartbeat() if heartbeat is None or record.seq > heartbeat.seq:
                heartbeat = record
    return newest, alerted, heartbeat


def _observe(newest: Newest, entity: str, record: Summary | Alert) -> None:
    at = record.last_ts if isinstance(record, Summary) else record.ts
    metrics = newest.setdefault(entity, {})
    metrics[record.metric] = max(at, metrics.get(record.metric, at))


async def _touched(store: Store, entity: str, received_at: float) -> list[Incident]:
    # The ingest stamps the incidents it opens or joins with its received_at.
    page = await store.incidents(IncidentQuery(entity=entity, limit=20))
    return [i for i in page.items if i.updated_at == received_at]


def _publish_twin(bus: Bus, live: Live, metrics: dict[str, float]) -> None:
    # Only the metrics whose live value is this batch's: a backfill or a value a newer batch
    # already replaced is not news.
    status = {
        metric: MetricChange(value=s.value, observed_at=s.observed_at, unit=s.unit)
        for metric, s in live.status.items()
        if metric in metrics and s.observed_at == metrics[metric]
    }
    if status:
        payload = TwinChange(
            entity=live.id, type=live.type, district=live.district,
            department=live.department, status=status,
        )  # fmt: skip
        bus.publish(Kind.TWIN, live.id, payload, district=live.district, department=live.department)


def _publish_heartbeat(bus: Bus, beat: Beat, where: Live | None) -> None:
    district = where.district if where is not None else None
    payload = GatewayChange(
        change="heartbeat", gateway=beat.gateway, district=district, status=fleet.Status.ONLINE,
        heartbeat_at=beat.received_at, buffer_depth=beat.buffer_depth,
        oldest_unsent_age_s=beat.oldest_unsent_age_s,
    )  # fmt: skip
    department = where.department if where is not None else None
    bus.publish(Kind.GATEWAY, beat.gateway, payload, district=district, department=department)


def _publish_incident(bus: Bus, incident: Incident, change: Action, where: Live | None) -> None:
    district = where.district if where is not None else None
    payload = IncidentChange(change=change, district=district, incident=IncidentPublic.of(incident))
    bus.publish(
        Kind.INCIDENT, str(incident.id), payload, district=district,
        department=incident.department,
    )  # fmt: skip


async def watch_fleet(bus: Bus, store: Store, settings: CloudSettings, period_s: float) -> None:
    """Publish gateways' status changes as time passes, forever (the task's supervisor)."""
    known: dict[str, fleet.Status] = {}
    while True:
        await asyncio.sleep(period_s)
        try:
            await _fleet_tick(bus, store, settings, known)
        except Exception:  # the supervisor of this task: log, and try again next period
            log.exception("stream: checking the fleet's status failed")


async def _fleet_tick(
    bus: Bus, store: Store, settings: CloudSettings, known: dict[str, fleet.Status]
) -> None:
    now, offset, changed = time.time(), 0, []
    while True:
        page = await store.gateways(1000, offset)
        for g in page.items:
            age = max(0.0, now - g.heartbeat_at) if g.heartbeat_at is not None else None
            status = fleet.status(age, settings.stale_after_s, settings.offline_after_s)
            if known.get(g.id, status) != status:
                changed.append((g, status))
            known[g.id] = status
        offset += len(page.items)
        if not page.items or offset >= page.total:
            break
    if changed:
        await _publish_fleet(bus, store, changed)


async def _publish_fleet(
    bus: Bus, store: Store, changed: Sequence[tuple[fleet.Gateway, fleet.Status]]
) -> None:
    if not bus.listening:
        bus.skipped()
        return
    try:
        found = await store.live([GATEWAY_PREFIX + g.id for g, _ in changed])
    except CloudError as exc:
        log.warning("stream: lost %d gateway status changes: %s", len(changed), exc)
        bus.skipped()
        return
    for g, status in changed:
        where = found.get(GATEWAY_PREFIX + g.id)
        hb = g.heartbeat
        payload = GatewayChange(
            change="status", gateway=g.id, district=where.district if where else None,
            status=status, heartbeat_at=g.heartbeat_at,
            buffer_depth=hb.buffer_depth if hb else None,
            oldest_unsent_age_s=hb.oldest_unsent_age_s if hb else None,
        )  # fmt: skip
        bus.publish(
            Kind.GATEWAY, g.id, payload, district=payload.district,
            department=where.department if where else None,
        )  # fmt: skip


def fleet_period(settings: CloudSettings) -> float:
    """How often gateways' status is re-derived: a sixth of the stale age, 1 to 15 s."""
    return max(1.0, min(15.0, settings.stale_after_s / 6))


@dataclass(frozen=True, slots=True)
class Hub:
    """The stream's bus, the ticker that publishes twin changes to it, and the outbox that
    tells the other processes of the store (None: this process is the only one)."""

    bus: Bus
    ticker: TwinTicker
    outbox: Outbox | None = None


@asynccontextmanager
async def running(store: Store, settings: CloudSettings) -> AsyncIterator[Hub]:
    """The bus, with the twin ticker, the fleet watcher and the fan-out beside it."""
    bus = Bus()
    channel = store.fanout()
    hub = Hub(bus, TwinTicker(bus, store), Outbox(channel, bus.boot) if channel else None)
    tasks = [
        asyncio.create_task(hub.ticker.run(TWIN_TICK_S), name="citytwin-twin-ticker"),
        asyncio.create_task(
            watch_fleet(bus, store, settings, fleet_period(settings)), name="citytwin-fleet-watch"
        ),
    ]
    listening = asyncio.Event()
    if channel is not None and hub.outbox is not None:
        tasks += _fanout_tasks(hub, store, channel, hub.outbox, listening.set)
    try:
        if channel is not None:
            await _wait_listening(listening)
        yield hub
    finally:
        bus.close()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if hub.outbox is not None:
            await hub.outbox.flush()  # what the last requests changed, before the store closes


def _fanout_tasks(
    hub: Hub, store: Store, channel: Fanout, outbox: Outbox, listening: Callable[[], None]
) -> list[asyncio.Task[None]]:
    receiving = fanout.receive(
        channel, outbox.origin, partial(apply, hub, store), hub.bus.lost, listening
    )
    return [
        asyncio.create_task(outbox.run(TWIN_TICK_S), name="citytwin-fanout-send"),
        asyncio.create_task(receiving, name="citytwin-fanout-receive"),
    ]


async def _wait_listening(listening: asyncio.Event) -> None:
    try:
        async with asyncio.timeout(LISTEN_WAIT_S):
            await listening.wait()
    except TimeoutError:
        log.warning("stream: not yet hearing the other processes; their changes follow later")


async def _hub(request: Request) -> Hub:
    # Lifespan state, like the store: the bus lives from start-up to shutdown.
    return cast(Hub, request.state.live)


HubDep = Annotated[Hub, Depends(_hub)]
