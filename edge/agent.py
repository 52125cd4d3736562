"""The agent process: sources -> pipeline -> store -> uplink, under one TaskGroup."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from edge.anomaly.detector import Detector
from edge.errors import AuthError, StoreError
from edge.health import Health
from edge.metrics import MetricsServer, Sources
from edge.pipeline import Pipeline, Prepared
from edge.settings import EdgeSettings
from edge.sources.base import RawMessage, Source
from edge.sources.mqtt import MqttSource
from edge.sources.serial import SerialSource
from edge.store import Store
from edge.uplink import CloudClient, Uplink
from edge.windows import WindowSummary
from shared.wire import mqtt
from shared.wire.uplink import Alert

log = logging.getLogger(__name__)

_FLUSH_TIMEOUT_S = 3.0
# Through the pipeline at a time, at most: the columns and the detector's temporaries grow
# with a slice's values, and a batched message carries ten or more.
_SLICE_MESSAGES = 2000
_SLICE_BYTES = 256 * 1024
# Stored readings whose sequence numbers are reloaded at start-up, so messages the broker
# delivers again after a crash are recognised as duplicates.
_RECENT_FOR_SEQUENCES = 100_000


class _Shutdown(Exception):
    """Raised inside the task group to stop every task."""


class Agent:
    """One gateway agent. Construct, then ``await run(stop)``; no I/O before ``run``."""

    def __init__(self, settings: EdgeSettings) -> None:
        self.settings = settings
        self.pipeline = Pipeline(settings)
        self.store = Store(
            settings.db_path,
            dead_letter_max=settings.store.dead_letter_max,
            ring_max=settings.store.ring_max,
            quota_bytes=settings.store.quota_bytes,
        )
        self.uplink: Uplink | None = None
        self.last_heartbeat: dict[str, Any] | None = None  # for /metrics
        self.metrics_port: int | None = None  # bound once running, if metrics_port is set
        self.source = MqttSource(settings.mqtt, client_id=f"citytwin-edge-{settings.gateway_id}")
        self.serial = [SerialSource(port, settings.mqtt.queue_max) for port in settings.serial]
        # The detector runs on this one thread (see Pipeline.score).
        self._scorer = ThreadPoolExecutor(1, thread_name_prefix="scorer")

    async def run(self, stop: asyncio.Event) -> None:
        """Run until ``stop`` is set, then flush windows and the outbox and return."""
        settings = self.settings
        await asyncio.to_thread(self.store.open)
        recovery = await asyncio.to_thread(self.store.recover, _RECENT_FOR_SEQUENCES)
        self.pipeline.restore(recovery)
        if settings.anomaly.enabled:
            anomaly = settings.anomaly
            detector = await asyncio.to_thread(
                Detector.load, anomaly.model, threads=anomaly.threads
            )
            self.pipeline.use_detector(detector)
            log.info("anomaly model %s loaded", detector.version)
        if self.pipeline.counters.replayed:
            log.info(
                "replayed %d stored readings into open windows", self.pipeline.counters.replayed
            )
        client = CloudClient(settings.cloud, settings.gateway_id)
        self.uplink = Uplink(settings.cloud, self.store, client)
        health = Health(settings.data_dir)
        metrics = self._metrics()
        log.info("gateway %s starting (store %s)", settings.gateway_id, settings.db_path)
        try:
            async with contextlib.AsyncExitStack() as sources, asyncio.TaskGroup() as tasks:
                every: list[Source] = [self.source, *self.serial]
                for source in every:
                    await sources.enter_async_context(source)
                    tasks.create_task(self._ingest(source))
                tasks.create_task(_supervise("windows", self._close_windows))
                tasks.create_task(_supervise("uplink", self.uplink.run))
                tasks.create_task(_supervise("heartbeat", lambda: self._heartbeats(health)))
                tasks.create_task(_until(stop))
        except* _Shutdown:
            log.info("gateway %s stopping", settings.gateway_id)
        finally:
            if metrics is not None:
                metrics.stop()
            await self._finish(client)

    def _metrics(self) -> MetricsServer | None:
        settings = self.settings
        if settings.metrics_port is None:
            return None
        sources = Sources(
            settings.gateway_id,
            self.pipeline.counters,
            lambda: self.uplink.state if self.uplink else None,
            lambda: self.last_heartbeat,
        )
        server = MetricsServer(sources, settings.metrics_host, settings.metrics_port)
        self.metrics_port = server.start()
        log.info("metrics on http://%s:%d/metrics", settings.metrics_host, self.metrics_port)
        return server

    async def _finish(self, client: CloudClient) -> None:
        # Nothing accepted may stay only in memory: close every window into the outbox.
        self._scorer.shutdown()
        try:
            await self._save_windows(self.pipeline.windows.close_all())
        except StoreError:
            log.exception("could not save the open windows at shutdown")
        if self.uplink is not None:
            await self.uplink.flush(_FLUSH_TIMEOUT_S)
        await client.aclose()
        await asyncio.to_thread(self.store.close)

    async def _ingest(self, source: Source) -> None:
        # Each batch lands in a task of its own: stored, scored on the scorer thread (numpy and
        # onnxruntime let go of the interpreter lock there, so a second core helps), then
        # windowed, acknowledged and its alerts raised, in batch order. Meanwhile this task
        # prepares the next batch. Two batches at most are in flight. Stopping never cancels
        # a landing: what was prepared is stored, windowed and alerted on.
        landing: asyncio.Task[None] | None = None
        try:
            async for arrived in source.batches():
                # A backlog arrives as one huge batch: taken in slices, memory stays bounded
                # and the first readings reach their windows (and alerts) sooner.
                stopping: asyncio.CancelledError | None = None
                for batch in _slices(arrived):
                    before = landing
                    landing = asyncio.create_task(
                        self._land(self.pipeline.prepare(batch), batch, source, before)
                    )
                    landing.add_done_callback(_log_failure)
                    if before is not None and stopping is None:
                        try:
                            await asyncio.shield(before)
                        except asyncio.CancelledError as exc:
                            # Land the rest of what arrived too (a serial line cannot send
                            # it again), then stop.
                            stopping = exc
                if stopping is not None:
                    raise stopping
        finally:
            if landing is not None:
                await asyncio.wait([landing])

    async def _land(
        self, prepared: Prepared, batch: list[RawMessage], source: Source,
        before: asyncio.Task[None] | None,
    ) -> None:  # fmt: skip
        # Queued first, so before any window that includes the batch can be closed and saved
        # (the store commits in queue order), and scored in batch order (one scorer thread).
        stored = self.store.store_batch(prepared.stored, [r.row() for r in prepared.rejections])
        scored = asyncio.get_running_loop().run_in_executor(
            self._scorer, self.pipeline.score, prepared
        )
        if before is not None:
            await before
        alerts = self.pipeline.window(prepared, await scored)
        await stored
        source.ack(batch)  # only now: a crash before the commit leaves them with the broker
        if alerts:
            await self._raise(alerts)
        for rejection in prepared.rejections[:3]:
            log.warning("dead letter (%s): %s", rejection.message.channel, rejection.detail)

    async def _raise(self, alerts: list[dict[str, Any]]) -> None:
        seqs = await self.store.append_numbered(alerts, time.time())
        if self.uplink is not None:
            self.uplink.nudge()
        # Also on the local broker, so a siren or display here acts even with the cloud away.
        records = [Alert.model_validate({"seq": s, **a}) for s, a in zip(seqs, alerts, strict=True)]
        self.source.publish([(mqtt.alert_topic(r.sensor), mqtt.encode_alert(r)) for r in records])

    async def _close_windows(self) -> None:
        tick = min(1.0, self.settings.windows.length_s / 4)
        while True:
            await asyncio.sleep(tick)
            closed = self.pipeline.close_due(time.time())
            if closed:
                await self._save_windows(closed)
            gaps = self.pipeline.take_gaps()
            if gaps:
                await self.store.append(gaps, time.time())

    async def _save_windows(self, closed: list[WindowSummary]) -> None:
        await self.store.close_windows(
            [w.record() for w in closed],
            [(w.sensor, w.metric, w.start, w.through_id) for w in closed],
            self.pipeline.replay_from(),
            time.time(),
        )

    async def _heartbeats(self, health: Health) -> None:
        while True:
            depth, oldest = await asyncio.to_thread(self.store.depth)
            shed = await asyncio.to_thread(self.store.shed)
            state = self.uplink.state if self.uplink else None
            desired = state.desired if state else None
            record = health.heartbeat(
                self.pipeline.counters,
                depth,
                oldest,
                shed_total=shed.readings,
                model_version=self.pipeline.model_version,
                config_version=desired.config_version if desired else 0,
                clock_offset_s=state.clock_offset_s if state else None,
            )
            self.last_heartbeat = record
            await self.store.append([record], time.time())
            if self.uplink is not None:
                self.uplink.nudge()
            await asyncio.sleep(self.settings.heartbeat_s)


def _slices(batch: list[RawMessage]) -> Iterator[list[RawMessage]]:
    """``batch`` in runs of at most ``_SLICE_MESSAGES`` messages and about ``_SLICE_BYTES``."""
    start = size = 0
    for end, message in enumerate(batch):
        if end - start >= _SLICE_MESSAGES or (size >= _SLICE_BYTES and end > start):
            yield batch[start:end]
            start, size = end, 0
        size += len(message.payload)
    if start < len(batch):
        yield batch[start:]


def _log_failure(landing: asyncio.Task[None]) -> None:
    """Say at once why a batch failed to land (the next batch raises it again)."""
    if not landing.cancelled() and (exc := landing.exception()) is not None:
        log.error("a batch failed to land: %r", exc)


async def _until(stop: asyncio.Event) -> None:
    await stop.wait()
    raise _Shutdown


async def _supervise(name: str, task: Callable[[], Awaitable[None]]) -> None:
    """Keep a long-running task alive: log what broke it, back off, start it again."""
    delay = 1.0
    while True:
        try:
            await task()
            return
        except AuthError:
            raise
        except Exception:  # the one broad except per task: anything else is a bug to survive
            log.exception("%s task failed; restarting in %.0f s", name, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 60.0)
