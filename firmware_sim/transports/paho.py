"""A blocking MQTT publisher on paho's own client loop, for flooding a broker.

One connection carries every sensor's readings. The caller's thread publishes and drives the
loop itself (``service()``): a separate network thread would only fight it for the GIL. It
drives it as an external loop (``select()``, then paho's ``loop_read``/``loop_write``/
``loop_misc``) rather than with paho's ``loop()``, which makes paho wake itself through a
socket pair at every publish: a second system call per message.

A broker that refuses the first connection is a ``LinkError``. A broker lost later is waited
for: ``reconnect()`` retries with a capped, jittered backoff while the publisher counts the
time without a connection. Overflow policy: at QoS 0 a message published while the connection
is down is lost and counted in ``lost``; at QoS 1 paho keeps every unacknowledged message and
sends it again after reconnecting (the broker may then see it twice). QoS 0 messages the
socket had already taken when the broker went away are lost without anyone knowing.
"""

from __future__ import annotations

import logging
import random
import select
import threading
import time
from types import TracebackType
from typing import Literal, Self

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode

from firmware_sim.errors import LinkError
from firmware_sim.transports.backoff import Backoff

log = logging.getLogger(__name__)

FLOOD_BACKOFF = Backoff(initial_s=0.2, max_s=5.0)
_OK = MQTTErrorCode.MQTT_ERR_SUCCESS


class PahoPublisher:
    """``with`` it to connect; ``publish()``, ``service()`` now and then, ``drain()`` at the end."""

    def __init__(
        self,
        host: str,
        port: int,
        client_id: str,
        qos: Literal[0, 1],
        timeout_s: float = 5.0,
        backoff: Backoff = FLOOD_BACKOFF,
        stop: threading.Event | None = None,
    ) -> None:
        self.url = f"mqtt://{host}:{port}"
        self._host, self._port, self._qos, self._timeout = host, port, qos, timeout_s
        self._backoff, self._stop = backoff, stop
        self._rng = random.Random(client_id)  # jitter differs between publishers
        self._client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id)
        # Unlimited: the flood paces itself, and paho's default of 20 would throttle QoS 1.
        self._client.max_inflight_messages_set(0)
        self._client.max_queued_messages_set(0)
        if qos:
            # Only to count acknowledgements: paho builds two objects per call, a cost at QoS 0.
            self._client.on_publish = self._on_publish
        self.published = 0  # messages handed to paho
        self.acknowledged = 0  # at QoS 1
        self.lost = 0  # messages paho could not take because the connection was down (QoS 0)
        self.reconnects = 0
        self._down_since: float | None = None
        self._down_s = 0.0

    def __enter__(self) -> Self:
        try:
            self._client.connect(self._host, self._port, keepalive=30)
        except OSError as exc:
            raise LinkError(f"cannot connect to broker {self.url}: {exc}") from exc
        if not self._await_connack():
            raise LinkError(f"broker {self.url} did not accept the connection")
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._client.disconnect()
        self._mark_up()  # stops the outage clock if the flood ended without a broker

    @property
    def connected(self) -> bool:
        """False from a lost connection until ``reconnect()`` succeeds."""
        return self._down_since is None

    @property
    def disconnected_s(self) -> float:
        """Seconds spent without a connection since the first one, the current outage included."""
        ongoing = 0.0 if self._down_since is None else time.perf_counter() - self._down_since
        return self._down_s + ongoing

    def publish(self, topic: str, payload: bytes) -> bool:
        """Queue one message, written at once if the socket takes it; False if it was lost."""
        rc = self._client.publish(topic, payload, self._qos).rc
        if rc != _OK:
            self._mark_down(rc)
            if not self._qos:
                self.lost += 1
                return False
        self.published += 1
        return True

    def service(self, timeout: float = 0.0) -> None:
        """Let paho read acknowledgements, write what is queued and keep the connection alive."""
        if self.connected:
            rc = self._loop(timeout)
            if rc != _OK:
                self._mark_down(rc)

    def reconnect(self, deadline: float | None = None) -> bool:
        """Retry, backing off, until connected (True), or ``deadline`` or stop comes (False).

        ``deadline`` is ``time.perf_counter()`` time; None waits for the broker indefinitely.
        """
        failures = 0
        while not self._stopped():
            if self._try_reconnect():
                self.reconnects += 1
                log.info("reconnected to %s after %.1f s", self.url, self.disconnected_s)
                self._mark_up()
                return True
            failures += 1
            delay = self._backoff.delay(failures, self._rng)
            if deadline is not None:
                delay = min(delay, deadline - time.perf_counter())
                if delay <= 0:
                    return False
            if self._stop is not None:
                self._stop.wait(delay)
            else:
                time.sleep(delay)
        return False

    def drain(self, timeout: float) -> bool:
        """Wait until every message is written (QoS 0) or acknowledged (QoS 1)."""
        deadline = time.perf_counter() + timeout
        while self._client.want_write() or (self._qos and self.acknowledged < self.published):
            if time.perf_counter() > deadline:
                return False
            if not self.connected and not self.reconnect(deadline):
                return False
            self.service(0.01)
        return True

    def _try_reconnect(self) -> bool:
        try:
            if self._client.reconnect() != _OK:
                return False
        except OSError as exc:
            log.debug("reconnecting to %s: %s", self.url, exc)
            return False
        return self._await_connack()

    def _await_connack(self) -> bool:
        deadline = time.perf_counter() + self._timeout
        while not self._client.is_connected():
            if time.perf_counter() > deadline or self._loop(0.05) != _OK:
                return False
        return True

    def _loop(self, timeout: float) -> MQTTErrorCode:
        """One turn of paho's loop: wait up to ``timeout`` for the socket, then serve it."""
        sock = self._client.socket()
        if sock is None:
            return MQTTErrorCode.MQTT_ERR_NO_CONN
        writing = [sock] if self._client.want_write() else []
        readable, writable, _ = select.select([sock], writing, [], timeout)
        if readable and (rc := self._client.loop_read()) != _OK:
            return rc
        if writable and (rc := self._client.loop_write()) != _OK:
            return rc
        return self._client.loop_misc()

    def _mark_down(self, rc: MQTTErrorCode) -> None:
        if self._down_since is None:
            self._down_since = time.perf_counter()
            log.warning(
                "lost broker %s after %d messages (%s); reconnecting",
                self.url,
                self.published,
                mqtt.error_string(rc),
            )

    def _mark_up(self) -> None:
        if self._down_since is not None:
            self._down_s += time.perf_counter() - self._down_since
            self._down_since = None

    def _stopped(self) -> bool:
        return self._stop is not None and self._stop.is_set()

    def _on_publish(self, *_: object) -> None:
        self.acknowledged += 1
