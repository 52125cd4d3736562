"""Signal models: deterministic, inside the catalogue's ranges, daily cycles, AR(1) noise."""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from firmware_sim import signals
from firmware_sim.fleet import SimSensor, kind_of, make_fleet, make_sensor
from firmware_sim.signals import MODELS, SignalState, sample, series
from shared.catalogue import KINDS
from shared.reading import check_metrics

DAY = 86_400.0
MIDNIGHT = 1_750_032_000.0  # a UTC midnight in June 2025


def sensor_of(kind: str, seed: int = 0, **changes: Any) -> SimSensor:
    """The first sensor of ``kind`` in fleet ``seed``, with ``changes`` applied."""
    number = list(KINDS).index(kind) + 1
    return dataclasses.replace(make_sensor(seed, number, "t"), **changes)


def at_local_hour(sensor: SimSensor, day: int, hour: float) -> float:
    """Epoch time of ``hour`` o'clock local time on ``day`` days after MIDNIGHT."""
    return MIDNIGHT + day * DAY + (hour - sensor.utc_offset_h) * 3600.0


@pytest.mark.parametrize("kind", list(KINDS))
def test_every_metric_of_every_kind_has_a_model(kind: str) -> None:
    assert [m.name for m in MODELS[kind]] == list(KINDS[kind].metrics)


@pytest.mark.parametrize("kind", list(KINDS))
@pytest.mark.parametrize("offset", [-2.5, 0.0, 2.5])
def test_values_stay_inside_the_catalogue_range(kind: str, offset: float) -> None:
    sensor = sensor_of(kind, offset=offset)
    times = MIDNIGHT + np.arange(0.0, 7 * DAY, 317.0)
    columns = series(sensor, times)
    for name, values in columns.items():
        metric = KINDS[kind].metrics[name]
        assert np.all((values >= metric.low) & (values <= metric.high)), name
    assert all(np.all(np.isfinite(v)) for v in columns.values())


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 2**32),
    number=st.integers(1, 10_000),
    start=st.floats(0.0, 4e9),
    steps=st.lists(st.floats(0.0, 10 * DAY), min_size=1, max_size=20),
)
def test_any_sensor_at_any_times_reports_valid_metrics(
    seed: int, number: int, start: float, steps: list[float]
) -> None:
    sensor = make_sensor(seed, number, "p")
    state, t = SignalState(), start
    for step in steps:
        t += step
        metrics, state = sample(sensor, state, t)
        assert check_metrics(sensor.kind, metrics) == metrics  # the gateway's own validation


def test_same_seed_and_times_give_the_same_values() -> None:
    times = MIDNIGHT + np.arange(0.0, DAY, 60.0)
    for one, other in zip(make_fleet(11, 8), make_fleet(11, 8), strict=True):
        first, second = series(one, times), series(other, times)
        assert all(np.array_equal(first[name], second[name]) for name in first)


def test_another_seed_gives_other_values() -> None:
    times = MIDNIGHT + np.arange(0.0, DAY, 600.0)
    number = list(KINDS).index("weather") + 1
    one = series(make_sensor(1, number, "t"), times)["atmosphericPressure"]
    other = series(make_sensor(2, number, "t"), times)["atmosphericPressure"]
    assert not np.array_equal(one, other)


def test_sampling_does_not_change_its_state() -> None:
    sensor = sensor_of("noise")
    state = sample(sensor, SignalState(), MIDNIGHT)[1]
    assert sample(sensor, state, MIDNIGHT + 1) == sample(sensor, state, MIDNIGHT + 1)
    assert state.step == 1


def _mean_at(kind: str, metric: str, hour: float, days: int = 40) -> float:
    """The mean of ``metric`` over many sensors and days at ``hour`` local time."""
    values = []
    for seed in range(4):
        sensor = sensor_of(kind, seed)
        for day in range(days):
            state = SignalState(step=day)  # a fresh noise draw each day
            values.append(sample(sensor, state, at_local_hour(sensor, day, hour))[0][metric])
    return float(np.mean(values))


@pytest.mark.parametrize(
    ("kind", "metric", "high_at", "low_at"),
    [
        ("traffic_flow", "averageVehicleSpeed", 3.0, 8.0),  # free-flowing at night
        ("traffic_flow", "intensity", 8.0, 3.0),
        ("traffic_flow", "intensity", 17.5, 23.0),
        ("air_quality", "no2", 8.0, 3.0),
        ("air_quality", "o3", 15.0, 4.0),
        ("weather", "temperature", 15.0, 4.0),
        ("weather", "relativeHumidity", 4.0, 15.0),
        ("noise", "LAeq", 8.0, 3.0),
        ("parking", "occupancy", 11.0, 2.0),
        ("parking", "availableSpotNumber", 2.0, 11.0),
        ("people_counter", "peopleCount", 13.0, 1.0),
        ("energy_meter", "activePower", 12.0, 0.0),
    ],
)
def test_the_daily_cycle_shows(kind: str, metric: str, high_at: float, low_at: float) -> None:
    high, low = _mean_at(kind, metric, high_at), _mean_at(kind, metric, low_at)
    model = next(m for m in MODELS[kind] if m.name == metric)
    assert high - low > abs(model.amplitude) / 2


def test_noise_is_autocorrelated() -> None:
    sensor = sensor_of("weather")
    minutes = series(sensor, MIDNIGHT + np.arange(0.0, 3 * DAY, 60.0))["atmosphericPressure"]
    assert np.corrcoef(minutes[:-1], minutes[1:])[0, 1] > 0.95


@pytest.mark.parametrize("step_s", [60.0, 900.0, 6 * 3600.0])
def test_noise_keeps_its_spread_whatever_the_interval(step_s: float) -> None:
    # conductivity has no daily cycle, so its spread is the noise's alone.
    model = next(m for m in MODELS["water_quality"] if m.name == "conductivity")
    sensor = sensor_of("water_quality")
    values = series(sensor, MIDNIGHT + np.arange(4000) * step_s)["conductivity"]
    assert 0.6 * model.sigma < np.std(values) < 1.4 * model.sigma


def test_the_energy_register_only_counts_up() -> None:
    sensor = sensor_of("energy_meter", offset=-2.5)
    register = series(sensor, MIDNIGHT + np.arange(0.0, 3 * DAY, 97.0))["totalActiveEnergyImport"]
    assert np.all(np.diff(register) >= 0)
    assert register[-1] - register[0] == pytest.approx(3 * 24 * 25.0, rel=0.01)


def test_wind_direction_wraps_instead_of_sticking_at_a_bound() -> None:
    sensor = sensor_of("weather", offset=2.5)
    direction = series(sensor, MIDNIGHT + np.arange(0.0, 60 * DAY, 1800.0))["windDirection"]
    assert np.all((direction >= 0) & (direction <= 360))
    assert np.mean(direction == 360) < 0.01


def test_kind_model_arrays_are_read_only() -> None:
    model = signals.kind_model(kind_of(1))
    with pytest.raises(ValueError, match="read-only"):
        model.base[0] = 1.0
