"""MQTT transport: one connection per simulated sensor, each with its own last will.

A sensor connects with its id as client id and a retained "offline" last will on its status
topic, then publishes "online" (retained). Closing the link publishes "offline" itself and
disconnects cleanly, which discards the will; if the process dies, the broker publishes it.

Overflow policy: a sensor has no storage. While its broker is unreachable the sensor keeps
sampling, ``send()`` returns False for each reading it loses, and the sequence numbers of those
readings are not reused, so the gateway sees the gap. The link tries to reconnect when the
next reading comes, once a capped, jittered backoff has elapsed.
"""

from __future__ import annotations

import contextlib
import logging
import random
import time
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from types import TracebackType
from typing import Final, Literal, Self
from urllib.parse import urlsplit

import aiomqtt

from firmware_sim.errors import LinkError, SimConfigError
from firmware_sim.transports.backoff import Backoff
from shared.wire.mqtt import encode_status, readings_topic, status_topic

log = logging.getLogger(__name__)

DEFAULT_PORT = 1883


def parse_broker_url(url: str) -> tuple[str, int]:
    """Host and port of an ``mqtt://host[:port]`` URL, or raise SimConfigError."""
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError as exc:
        raise SimConfigError(f"{url!r} has an invalid port", field="broker") from exc
    if parts.scheme not in ("mqtt", "tcp") or not parts.hostname or parts.path not in ("", "/"):
        raise SimConfigError(f"{url!r} is not mqtt://host[:port]", field="broker")
    return parts.hostname, port or DEFAULT_PORT


@dataclass(frozen=True, slots=True)
class MqttOptions:
    """Where and how every sensor of a fleet connects."""

    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    qos: Literal[0, 1] = 0
    # The broker declares a sensor dead (and fires its will) after 1.5 keepalives of silence
    # when its socket was not closed, e.g. when the machine lost power.
    keepalive_s: int = 30
    timeout_s: float = 5.0
    backoff: Backoff = field(default_factory=Backoff)

    @property
    def url(self) -> str:
        """The broker as a URL, for messages."""
        return f"mqtt://{self.host}:{self.port}"


class MqttLink:
    """One simulated sensor's MQTT connection: ``async with`` it, then ``send()`` payloads."""

    transport: Final = "mqtt"

    def __init__(self, sensor: str, options: MqttOptions) -> None:
        self._sensor = sensor
        self._options = options
        self._readings_topic = readings_topic(sensor)
        self._status_topic = status_topic(sensor)
        self._client: aiomqtt.Client | None = None
        self._stack: AsyncExitStack | None = None
        self._failures = 0
        self._retry_at = 0.0
        # Seeded by the sensor id: jitter differs between sensors but repeats between runs.
        self._rng = random.Random(sensor)
        self.connects = 0
        self.lost = 0  # readings lost since the last (re)connection

    async def __aenter__(self) -> Self:
        await self._connect()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._close(clean=True)

    async def send(self, frame: bytes) -> bool:
        """Publish one readings payload; False if it was lost because the broker is unreachable."""
        client = self._client or await self._reconnect()
        if client is None:
            self.lost += 1
            return False
        try:
            await client.publish(
                self._readings_topic,
                frame,
                qos=self._options.qos,
                timeout=self._options.timeout_s,
            )
        except aiomqtt.MqttError as exc:
            log.warning(
                "%s lost broker %s (%s); reconnecting", self._sensor, self._options.url, exc
            )
            await self._close(clean=False)
            self.lost += 1
            return False
        return True

    async def _connect(self) -> aiomqtt.Client:
        will = aiomqtt.Will(self._status_topic, encode_status(False), qos=1, retain=True)
        client = aiomqtt.Client(
            self._options.host,
            self._options.port,
            identifier=self._sensor,
            will=will,
            keepalive=self._options.keepalive_s,
            timeout=self._options.timeout_s,
        )
        stack = AsyncExitStack()
        try:
            await stack.enter_async_context(client)
            await client.publish(self._status_topic, encode_status(True), qos=1, retain=True)
        except (aiomqtt.MqttError, OSError) as exc:
            with contextlib.suppress(aiomqtt.MqttError):
                await stack.aclose()
            raise LinkError(
                f"{self._sensor} cannot connect to broker {self._options.url}: {exc}"
            ) from exc
        self._client, self._stack = client, stack
        self.connects += 1
        return client

    async def _reconnect(self) -> aiomqtt.Client | None:
        now = time.monotonic()
        if now < self._retry_at:
            return None
        try:
            client = await self._connect()
        except LinkError as exc:
            self._failures += 1
            delay = self._options.backoff.delay(self._failures, self._rng)
            self._retry_at = now + delay
            log.debug("%s; retrying in %.1f s", exc, delay)
            return None
        log.info(
            "%s reconnected to %s; %d readings lost while away",
            self._sensor,
            self._options.url,
            self.lost,
        )
        self._failures = self.lost = 0
        return client

    async def _close(self, *, clean: bool) -> None:
        client, stack = self._client, self._stack
        self._client = self._stack = None
        if client is None or stack is None:
            return
        # Any MQTT error here means the broker is gone, and then the will reports us offline.
        if clean:
            with contextlib.suppress(aiomqtt.MqttError):
                await client.publish(
                    self._status_topic,
                    encode_status(False),
                    qos=1,
                    retain=True,
                    timeout=self._options.timeout_s,
                )
        with contextlib.suppress(aiomqtt.MqttError):
            await stack.aclose()
