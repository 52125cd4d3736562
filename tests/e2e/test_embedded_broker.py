"""The demo's fallback broker (amqtt) carries a reading like Mosquitto does."""

from __future__ import annotations

import subprocess
import sys
import threading

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from tests.conftest import free_port, wait_for_port


def test_embedded_broker_round_trip() -> None:
    port = free_port()
    broker = subprocess.Popen([sys.executable, "-m", "citytwin.broker", str(port)])
    try:
        wait_for_port(port, timeout=20)
        received = threading.Event()
        payloads: list[bytes] = []

        def on_message(_c: mqtt.Client, _u: object, message: mqtt.MQTTMessage) -> None:
            payloads.append(message.payload)
            received.set()

        sub = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="sub")
        sub.on_message = on_message
        sub.connect("127.0.0.1", port)
        sub.subscribe("citytwin/v1/sensors/+/readings", qos=1)
        sub.loop_start()
        pub = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="pub")
        pub.connect("127.0.0.1", port)
        pub.loop_start()
        # Subscriptions complete asynchronously: publish until one arrives.
        for _ in range(50):
            pub.publish("citytwin/v1/sensors/s1/readings", b"hello", qos=1).wait_for_publish(5)
            if received.wait(0.2):
                break
        sub.loop_stop()
        pub.loop_stop()
        assert payloads[0] == b"hello"
    finally:
        broker.terminate()
        broker.wait(timeout=10)
