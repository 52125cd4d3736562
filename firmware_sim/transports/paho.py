"""A blocking MQTT publisher on paho's own client loop, for flooding a broker.

One connection carries every sensor's readings. The caller's thread publishes and drives the
loop itself (``service()``): a separate network thread would only fight it for the GIL.
Nothing here reconnects: a flood that loses its broker stops and says so.
"""

from __future__ import annotations

import time
from types import TracebackType
from typing import Literal, Self

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode

from firmware_sim.errors import LinkError


class PahoPublisher:
    """``with`` it to connect; ``publish()``, ``service()`` now and then, ``drain()`` at the end."""

    def __init__(
        self, host: str, port: int, client_id: str, qos: Literal[0, 1], timeout_s: float = 5.0
    ) -> None:
        self.url = f"mqtt://{host}:{port}"
        self._host, self._port, self._qos, self._timeout = host, port, qos, timeout_s
        self._client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id)
        # Unlimited: the flood paces itself, and paho's default of 20 would throttle QoS 1.
        self._client.max_inflight_messages_set(0)
        self._client.max_queued_messages_set(0)
        if qos:
            # Only to count acknowledgements: paho builds two objects per call, a cost at QoS 0.
            self._client.on_publish = self._on_publish
        self.published = 0  # messages handed to paho
        self.acknowledged = 0  # at QoS 1

    def __enter__(self) -> Self:
        try:
            self._client.connect(self._host, self._port, keepalive=30)
        except OSError as exc:
            raise LinkError(f"cannot connect to broker {self.url}: {exc}") from exc
        deadline = time.monotonic() + self._timeout
        while not self._client.is_connected():
            if time.monotonic() > deadline:
                raise LinkError(f"broker {self.url} did not accept the connection")
            self._check(self._client.loop(0.05))
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._client.disconnect()

    def publish(self, topic: str, payload: bytes) -> None:
        """Queue one message; paho writes it at once if the socket takes it."""
        self._check(self._client.publish(topic, payload, self._qos).rc)
        self.published += 1

    def service(self, timeout: float = 0.0) -> None:
        """Let paho read acknowledgements, write what is queued and keep the connection alive."""
        self._check(self._client.loop(timeout))

    def drain(self, timeout: float) -> bool:
        """Wait until every message is written (QoS 0) or acknowledged (QoS 1)."""
        deadline = time.monotonic() + timeout
        while self._client.want_write() or (self._qos and self.acknowledged < self.published):
            if time.monotonic() > deadline:
                return False
            self.service(0.01)
        return True

    def _on_publish(self, *_: object) -> None:
        self.acknowledged += 1

    def _check(self, rc: MQTTErrorCode) -> None:
        if rc != MQTTErrorCode.MQTT_ERR_SUCCESS:
            raise LinkError(
                f"lost broker {self.url} after {self.published} messages: {mqtt.error_string(rc)}"
            )
