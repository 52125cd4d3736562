"""docs/protocol.md's own examples, published byte for byte, are accepted by a real agent."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from edge.settings import EdgeSettings
from tests.conftest import Mosquitto
from tests.edge.conftest import RunningAgent, edge_settings, publisher, wait_until
from tests.shared.docs import doc_example

# The documented examples carry fixed dates; widen the time sanity limits so they stay valid.
_YEARS = 20 * 365 * 86400.0


@pytest.mark.parametrize(("example", "readings"), [("mqtt-single", 1), ("mqtt-batch", None)])
async def test_documented_mqtt_example_is_accepted(
    example: str,
    readings: int | None,
    mosquitto: Mosquitto,
    tmp_path: Path,
    start_agent: Callable[[EdgeSettings], RunningAgent],
) -> None:
    payload = doc_example(example).encode()
    body = json.loads(payload)  # only to learn the topic and how many readings to expect
    expected = readings or len(body["readings"])
    settings = edge_settings(
        mosquitto, tmp_path / "edge", validation={"max_age_s": _YEARS, "max_future_s": _YEARS}
    )
    running = start_agent(settings)
    await wait_until(lambda: running.agent.source.subscribed)

    pub = publisher(mosquitto)
    pub.publish(f"citytwin/v1/sensors/{body['sensor']}/readings", payload, qos=1)
    counters = running.agent.pipeline.counters
    await wait_until(lambda: counters.messages == 1)
    pub.loop_stop()
    assert counters.dead_letters == 0, running.agent.store.dead_letters(5)
    assert counters.readings == expected
