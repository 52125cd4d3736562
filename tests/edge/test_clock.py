"""Clock offset: measured from the cloud's answers, carried by heartbeats."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest

from edge.settings import EdgeSettings
from edge.uplink import ClockOffset
from tests.conftest import Mosquitto
from tests.edge.conftest import RunningAgent, edge_settings, wait_until
from tests.support.cloud import CloudServer


@pytest.mark.parametrize("true_offset", [0.0, 0.37, -0.8, 125.25, -3600.6])
def test_answers_narrow_the_offset_below_the_dates_one_second(true_offset: float) -> None:
    clock = ClockOffset()
    t = 1_700_000_000.0
    for i in range(40):  # answers taking 20 ms, sent at different fractions of a second
        t0 = t + i * 1.37
        served = t0 + 0.01 + true_offset  # the cloud's clock when it wrote the answer
        clock.add(float(int(served // 1)), t0, t0 + 0.02)
    assert clock.value is not None
    assert abs(clock.value - true_offset) < 0.05


def test_a_stepped_clock_starts_the_estimate_again() -> None:
    clock = ClockOffset()
    assert clock.value is None
    for i in range(10):
        t0 = 1000.0 + i * 1.3
        clock.add(float(int(t0 + 0.01)), t0, t0 + 0.02)
    assert clock.value is not None
    assert abs(clock.value) < 0.5
    for i in range(10):  # the gateway's clock jumped back a minute (NTP step)
        t0 = 940.0 + 20 + i * 1.3
        clock.add(float(int(t0 + 60 + 0.01)), t0, t0 + 0.02)
    assert clock.value is not None
    assert abs(clock.value - 60) < 0.5


def _heartbeat(database: Path) -> dict[str, Any]:
    with closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True)) as conn:
        row = conn.execute("SELECT heartbeat FROM gateways").fetchone()
    return json.loads(row[0]) if row and row[0] else {}


async def test_heartbeats_reach_the_cloud_with_the_measured_offset(
    mosquitto: Mosquitto,
    tmp_path: Path,
    start_agent: Callable[[EdgeSettings], RunningAgent],
) -> None:
    with CloudServer(tmp_path / "cloud.db") as cloud:
        running = start_agent(edge_settings(mosquitto, tmp_path / "edge", cloud.url))
        # The first heartbeat leaves before any answer; a later one carries the measurement.
        await wait_until(
            lambda: _heartbeat(cloud.settings.database).get("clock_offset_s") is not None,
            timeout=15,
        )
        await running.stop()
    offset = _heartbeat(cloud.settings.database)["clock_offset_s"]
    assert abs(offset) < 1.0  # one machine, one clock: within the measurement's error
