"""The MQTT link: a small child process that runs paho's network loop for the agent.

paho spends ~25 us of Python per message; in the agent's process that time competes for the
GIL with decoding, windows, scoring and storage, and the agent drained about a third of what a
bare subscriber does. In its own process it runs on another core and hands the agent whole
batches. The agent starts it as ``python -m edge.sources.mqtt_link FD`` with one end of a
socket pair; it imports paho and the standard library, nothing else (~20 MB resident less).

Protocol (pickled tuples over a ``multiprocessing`` connection):
  agent -> link: the fields of ``LinkConfig`` first, then ("ack", [(mid, qos), ...]),
                 ("publish", [(topic, payload), ...]) or ("close",)
  link -> agent: ("batch", [("mqtt", topic, payload, received_at, mid, qos), ...]), ("connected",
                 session_present), ("subscribed", ok), ("lost", reason), ("unreachable",),
                 ("fatal", credentials_refused, message)
QoS 1 messages are acknowledged to the broker only when the agent says they are stored. If the
agent dies the connection reaches end-of-file and the link exits without acknowledging: the
broker keeps the unacknowledged messages for the next session.

Overflow policy: when ``queue_max`` messages (or ``queue_max_bytes`` of payload) wait to be sent
to the agent, paho's thread blocks and the broker holds the backlog (QoS 1, persistent
session); a QoS 0 publisher may lose messages at the broker instead, as MQTT allows.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
import time
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.reasoncodes import ReasonCode

from edge.sources.paho_client import BufferedClient

log = logging.getLogger("edge.sources.mqtt")

# CONNACK codes after which retrying with the same credentials cannot succeed.
_FATAL_CONNACK = {"Bad user name or password", "Not authorized", "Client identifier not valid"}

Item = tuple[str, str, bytes, float, int, int]  # the fields of a RawMessage
_GATHER_MIN = 256  # messages: a smaller hand-over waits up to batch_wait_s for company
# Between two reads of the socket that found it nearly empty: a sensor fleet's messages then
# arrive a few dozen per read rather than one per wake-up of paho's thread.
_READ_GAP_S = 0.02


@dataclass(frozen=True, slots=True)
class LinkConfig:
    """What the link needs to know: the broker, who we are, how much may wait."""

    host: str
    port: int
    url: str
    client_id: str
    topic_filter: str
    username: str | None
    password: str | None
    keepalive_s: int
    queue_max: int
    queue_max_bytes: int
    batch_wait_s: float
    log_format: str
    log_level: int


class Link:
    """paho's loop on its thread, a sender thread towards the agent, commands on the main one."""

    def __init__(self, conn: Connection, config: LinkConfig) -> None:
        self._conn = conn
        self._config = config
        self._lock = threading.Lock()
        self._ready = threading.Condition(self._lock)  # something to send, or closing
        self._room = threading.Condition(self._lock)  # the queue went below queue_max
        self._items: list[Item] = []
        self._bytes = 0  # payload bytes in _items
        self._events: list[tuple[Any, ...]] = []
        self._closed = False
        # A hand-over never waits for more messages than the queue may hold.
        self._gather = min(_GATHER_MIN, config.queue_max)
        client = BufferedClient(
            CallbackAPIVersion.VERSION2,
            read_gap_s=min(_READ_GAP_S, config.batch_wait_s),
            publish_handler=self._on_publish,
            client_id=config.client_id,
            clean_session=False,  # the broker keeps our subscription and QoS 1 backlog
            protocol=mqtt.MQTTv311,
        )
        if config.username is not None:
            client.username_pw_set(config.username, config.password)
        # Acknowledge QoS 1 messages only once the agent stored them (see the module doc).
        client.manual_ack_set(True)
        client.reconnect_delay_set(min_delay=1, max_delay=30)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        client.on_subscribe = self._on_subscribe
        client.on_connect_fail = self._on_connect_fail
        self._client = client

    def run(self) -> None:
        """Connect, then obey the agent until it says close or goes away."""
        sender = threading.Thread(target=self._send_loop, name="link-sender", daemon=True)
        sender.start()
        try:
            self._client.connect_async(
                self._config.host, self._config.port, keepalive=self._config.keepalive_s
            )
        except (OSError, ValueError) as exc:
            self._event("fatal", False, f"cannot reach broker {self._config.url}: {exc}")
        else:
            self._client.loop_start()
        try:
            self._commands()
        finally:
            with self._lock:
                self._closed = True
                self._ready.notify_all()
                self._room.notify_all()
            self._client.disconnect()
            self._client.loop_stop()

    def _commands(self) -> None:
        client = self._client
        while True:
            try:
                command = self._conn.recv()
            except (EOFError, OSError):
                return  # the agent is gone; unacknowledged messages stay with the broker
            if command[0] == "ack":
                for mid, qos in command[1]:
                    client.ack(mid, qos)
            elif command[0] == "publish":
                for topic, payload in command[1]:
                    client.publish(topic, payload, qos=1)
            elif command[0] == "close":
                return

    def _send_loop(self) -> None:
        wait = self._config.batch_wait_s
        while True:
            with self._lock:
                while not (self._items or self._events or self._closed):
                    self._ready.wait()
                # At a low rate, wait a moment for more: one hand-over (and one wake-up of the
                # agent) for many messages rather than for each. A flood never waits here.
                deadline = time.monotonic() + wait
                while len(self._items) < self._gather and not (self._events or self._closed):
                    left = deadline - time.monotonic()
                    if left <= 0:
                        break
                    self._ready.wait(left)
                if self._closed:
                    return
                items, self._items = self._items, []
                self._bytes = 0
                events, self._events = self._events, []
                self._room.notify_all()
            try:
                for event in events:
                    self._conn.send(event)
                if items:
                    self._conn.send(("batch", items))
            except OSError:
                os._exit(0)  # the agent died mid-send: nothing left to serve

    def _event(self, *event: Any) -> None:
        with self._lock:
            self._events.append(event)
            self._ready.notify()

    # -- paho thread -------------------------------------------------------------------------

    def _on_message(self, _client: mqtt.Client, _ud: Any, message: mqtt.MQTTMessage) -> None:
        # What paho itself hands over (a PUBLISH read in pieces, QoS 2): as the fast path does.
        self._on_publish(message._topic, bytes(message.payload), message.mid, message.qos)

    def _on_publish(self, topic: bytes, payload: bytes, mid: int, qos: int) -> None:
        item = ("mqtt", topic.decode("utf-8", "replace"), payload, time.time(), mid, qos)
        with self._lock:
            config = self._config
            while (
                len(self._items) >= config.queue_max or self._bytes >= config.queue_max_bytes
            ) and not self._closed:
                self._room.wait(timeout=1.0)
            self._items.append(item)
            self._bytes += len(payload)
            if len(self._items) in (1, self._gather):  # the first wakes the sender, then enough
                self._ready.notify()

    def _on_connect(
        self, client: mqtt.Client, _ud: Any, flags: Any, reason: ReasonCode, _props: Any
    ) -> None:
        if reason.is_failure:
            if str(reason) in _FATAL_CONNACK:
                self._event("fatal", True, f"broker {self._config.url} refused us: {reason}")
                client.disconnect()
            else:
                log.warning("broker %s refused the connection: %s", self._config.url, reason)
            return
        # Resubscribing on every connect is harmless with a persistent session and required
        # without one (a broker that lost its state).
        client.subscribe(self._config.topic_filter, qos=1)
        self._event("connected", bool(getattr(flags, "session_present", False)))

    def _on_disconnect(
        self, _client: mqtt.Client, _ud: Any, _flags: Any, reason: ReasonCode, _props: Any
    ) -> None:
        self._event("lost", str(reason))

    def _on_connect_fail(self, _client: mqtt.Client, _ud: Any) -> None:
        self._event("unreachable")

    def _on_subscribe(
        self, _client: mqtt.Client, _ud: Any, _mid: int, reasons: list[ReasonCode], _props: Any
    ) -> None:
        self._event("subscribed", not any(r.is_failure for r in reasons), str(reasons))


def main(argv: list[str]) -> None:
    """Entry point of the child process: ``python -m edge.sources.mqtt_link FD``."""
    # Ctrl-C reaches the whole process group; the agent decides when its link stops.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    conn = Connection(int(argv[1]))
    config = LinkConfig(**conn.recv())
    logging.basicConfig(level=config.log_level, format=config.log_format)
    Link(conn, config).run()


if __name__ == "__main__":
    main(sys.argv)
