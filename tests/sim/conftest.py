"""Fixtures for the simulator: a real MQTT subscriber that records what the sensors publish."""

from __future__ import annotations

import json
import sys
import threading
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from firmware_sim.dataset import Dataset, DatasetPlan, make_dataset
from shared.reading import Reading
from shared.wire.mqtt import decode_readings, decode_status, sensor_from_topic
from tests.conftest import Mosquitto


@dataclass(frozen=True, slots=True)
class Received:
    """One message as the recorder got it."""

    topic: str
    payload: bytes
    retain: bool


class Recorder:
    """A paho subscriber to every sensor topic, keeping messages in arrival order.

    ``persistent``: the broker keeps the recorder's session, and queues what arrives while the
    recorder is away (a broker restart included, as the test broker persists its state).
    """

    def __init__(self, port: int, *, persistent: bool = False) -> None:
        self.port = port
        self.messages: list[Received] = []
        self._changed = threading.Condition()
        self._subscribed = threading.Event()
        self._client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id="test-recorder", clean_session=not persistent
        )
        self._client.reconnect_delay_set(min_delay=1, max_delay=1)
        self._client.on_connect = self._on_connect
        self._client.on_subscribe = self._on_subscribe
        self._client.on_message = self._on_message

    def start(self) -> None:
        self._client.connect("127.0.0.1", self.port)
        self._client.loop_start()
        assert self._subscribed.wait(10), "the recorder could not subscribe"

    def stop(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()

    def wait_for(self, predicate: Predicate, timeout: float = 10.0) -> None:
        """Block until ``predicate(self)`` holds, or fail the test."""
        with self._changed:
            assert self._changed.wait_for(lambda: predicate(self), timeout), "timed out"

    def readings(self) -> dict[str, list[Reading]]:
        """Every decoded reading, by sensor, in arrival order."""
        out: dict[str, list[Reading]] = defaultdict(list)
        for message in self.snapshot():
            if message.topic.endswith("/readings"):
                sensor = sensor_from_topic(message.topic)
                out[sensor] += decode_readings(sensor, message.payload)
        return out

    def statuses(self, *, retained: bool = True) -> dict[str, list[bool]]:
        """Every status (True: online), by sensor, in arrival order."""
        out: dict[str, list[bool]] = defaultdict(list)
        for message in self.snapshot():
            if message.topic.endswith("/status") and (retained or not message.retain):
                out[sensor_from_topic(message.topic)].append(decode_status(message.payload))
        return out

    def snapshot(self) -> list[Received]:
        """Every message so far, in arrival order."""
        with self._changed:
            return list(self.messages)

    def _on_connect(self, client: mqtt.Client, *_: Any) -> None:
        client.subscribe("citytwin/v1/sensors/#", qos=1)

    def _on_subscribe(self, *_: Any) -> None:
        self._subscribed.set()

    def _on_message(self, _client: mqtt.Client, _userdata: Any, message: Any) -> None:
        with self._changed:
            self.messages.append(Received(message.topic, message.payload, message.retain))
            self._changed.notify_all()


Predicate = Callable[[Recorder], bool]


@dataclass(frozen=True, slots=True)
class Sent:
    """A reading as it went over the wire, read without the gateway's range checks."""

    seq: int
    ts: float
    metrics: dict[str, float]


def wire_readings(recorder: Recorder) -> dict[str, list[Sent]]:
    """Every single-reading message, by sensor, out-of-range values included."""
    out: dict[str, list[Sent]] = defaultdict(list)
    for message in recorder.snapshot():
        if message.topic.endswith("/readings"):
            body = json.loads(message.payload)
            out[sensor_from_topic(message.topic)].append(
                Sent(body["seq"], body["ts"], body["metrics"])
            )
    return out


@pytest.fixture
def recorder(mosquitto: Mosquitto) -> Iterator[Recorder]:
    """A subscriber to every sensor topic of the test's broker, started before the sensors."""
    subscriber = Recorder(mosquitto.port)
    subscriber.start()
    yield subscriber
    subscriber.stop()


def citytwin_command() -> list[str]:
    """How to run the ``citytwin`` command of the interpreter running the tests."""
    script = Path(sys.executable).with_name("citytwin")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "from citytwin.cli import main; main()"]


@pytest.fixture(scope="session")
def two_weeks() -> Dataset:
    """Two weeks of 200 sensors of city 7 at 5-minute steps: made once, never changed."""
    return make_dataset(DatasetPlan(seed=7, sensors=200, days=14))
