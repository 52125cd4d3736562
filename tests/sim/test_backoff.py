"""Reconnect backoff: doubling, capped, jittered, repeatable."""

from __future__ import annotations

import random

import pytest

from firmware_sim.transports.backoff import Backoff


@pytest.mark.parametrize(
    ("failures", "ceiling"), [(1, 0.5), (2, 1.0), (3, 2.0), (5, 8.0), (6, 10.0), (500, 10.0)]
)
def test_delays_double_up_to_the_cap(failures: int, ceiling: float) -> None:
    rng = random.Random(0)
    delays = [Backoff(0.5, 10.0).delay(failures, rng) for _ in range(200)]
    assert all(ceiling / 2 <= d <= ceiling for d in delays)
    assert max(delays) - min(delays) > ceiling / 4  # jittered, so a fleet spreads out


def test_the_same_seed_gives_the_same_delays() -> None:
    one, other = random.Random("sim-aq-0001"), random.Random("sim-aq-0001")
    assert [Backoff().delay(n, one) for n in range(1, 9)] == [
        Backoff().delay(n, other) for n in range(1, 9)
    ]
