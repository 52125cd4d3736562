"""The simulated world has the structure of real city data: cycles, weather, neighbours."""

from __future__ import annotations

import dataclasses
import itertools
from datetime import UTC, datetime

import numpy as np
import pytest

from firmware_sim.city.geo import distance
from firmware_sim.dataset import Dataset, DatasetPlan, make_dataset
from firmware_sim.world import calendar, kinds
from firmware_sim.world.calendar import Period
from firmware_sim.world.noise import ar1, lagged
from firmware_sim.world.weather import make_weather


def column(dataset: Dataset, kind: str, metric: str, *, clean: bool = True) -> np.ndarray:
    """(sensors, samples) of one metric, without anomalies unless ``clean`` is False."""
    block = (dataset.clean if clean else dataset.series)[kind]
    return block.values[..., block.metrics.index(metric)]


def at(dataset: Dataset, hour: float, *, weekend: bool) -> np.ndarray:
    """Mask of samples at ``hour`` local time on weekdays (or weekends)."""
    ctx = dataset.context
    return np.asarray((np.abs(ctx.hours - hour) < 0.01) & (ctx.weekend == weekend))


@pytest.mark.parametrize(
    ("stamp", "is_weekend"),
    [("2025-06-02T10:00", False), ("2025-06-07T00:30", True), ("2025-06-08T23:30", True),
     ("2025-06-06T23:30", False)],
)  # fmt: skip
def test_weekends_fall_on_local_saturday_and_sunday(stamp: str, is_weekend: bool) -> None:
    t = datetime.fromisoformat(stamp).replace(tzinfo=UTC).timestamp() - 3600.0  # UTC+1
    assert bool(calendar.weekend(np.array([t]), 1.0)[0]) is is_weekend


def test_traffic_is_slower_in_the_weekday_rush_than_at_night(two_weeks: Dataset) -> None:
    speed = column(two_weeks, "traffic_flow", "averageVehicleSpeed")
    rush = speed[:, at(two_weeks, 8.0, weekend=False)].mean()
    night = speed[:, at(two_weeks, 3.0, weekend=False)].mean()
    sunday_morning = speed[:, at(two_weeks, 8.0, weekend=True)].mean()
    assert rush < night - 15.0
    assert rush < sunday_morning - 10.0  # the weekly cycle: no rush hour at weekends


def test_traffic_flow_peaks_at_both_rush_hours(two_weeks: Dataset) -> None:
    flow = column(two_weeks, "traffic_flow", "intensity")

    def mean(hour: float) -> float:
        return float(flow[:, at(two_weeks, hour, weekend=False)].mean())

    assert mean(8.0) > 1.1 * mean(12.5)
    assert mean(17.5) > 1.1 * mean(12.5)
    assert mean(3.0) < 0.2 * mean(8.0)


def test_beach_turbidity_rises_hours_after_rain(two_weeks: Dataset) -> None:
    ctx = two_weeks.context
    beaches = [i for i, p in enumerate(two_weeks.city.sensors_of("water_quality"))
               if p.observes.startswith("beach")]  # fmt: skip
    turbidity = column(two_weeks, "water_quality", "turbidity")[beaches].mean(axis=0)
    heavy = np.flatnonzero(ctx.weather.rain > 3.0)
    assert len(heavy) > 5, "seed 7 rains in its first two weeks"
    dry = ctx.runoff < 0.01
    later = np.clip(heavy + 12 * 6, 0, ctx.period.samples - 1)  # six hours later
    assert turbidity[later].mean() > 2.0 * turbidity[dry].mean()
    assert turbidity[later].mean() > turbidity[heavy].mean()  # the peak lags the rain


def test_the_runoff_peaks_hours_after_a_pulse_and_fades() -> None:
    pulse = np.zeros(400)
    pulse[10] = 10.0
    response = lagged(pulse, step_h=0.25, peak_h=5.0, span_h=72.0)
    assert response[10] == 0.0
    assert int(np.argmax(response)) == 10 + 20  # five hours of quarter hours
    assert response[-1] < 0.05 * response.max()


def test_neighbouring_pm_sensors_correlate_more_than_distant_ones(two_weeks: Dataset) -> None:
    pm = column(two_weeks, "air_quality", "pm25")
    where = [p.position for p in two_weeks.city.sensors_of("air_quality")]
    near: list[float] = []
    far: list[float] = []
    for i, j in itertools.combinations(range(len(where)), 2):
        r = np.corrcoef(pm[i], pm[j])[0, 1]
        gap = distance(where[i], where[j])
        (near if gap < 1.0 else far if gap > 3.0 else []).append(r)
    assert len(near) >= 10
    assert len(far) >= 10
    assert np.mean(near) > np.mean(far) + 0.2


def test_wind_lowers_pm(two_weeks: Dataset) -> None:
    ctx = two_weeks.context
    windy = dataclasses.replace(
        ctx, weather=dataclasses.replace(ctx.weather, wind=ctx.weather.wind + 4.0)
    )
    sensors = two_weeks.city.sensors_of("air_quality")
    calm, blown = kinds.air_quality(ctx, sensors), kinds.air_quality(windy, sensors)
    assert np.all(blown[..., 0] < 0.8 * calm[..., 0])  # pm25, everywhere, always
    assert np.all(blown[..., 1] < calm[..., 1])  # pm10


def test_warmer_weather_raises_the_energy_load(two_weeks: Dataset) -> None:
    ctx = two_weeks.context
    hot = dataclasses.replace(
        ctx, weather=dataclasses.replace(ctx.weather, temperature=ctx.weather.temperature + 8.0)
    )
    meters = two_weeks.city.sensors_of("energy_meter")
    power = kinds.energy_meter(ctx, meters)[..., 0]
    hotter = kinds.energy_meter(hot, meters)[..., 0]
    assert np.all(hotter.mean(axis=1) > 1.05 * power.mean(axis=1))


def test_offices_use_less_energy_at_weekends(two_weeks: Dataset) -> None:
    buildings = {b.id: b for b in two_weeks.city.layout.buildings}
    power = column(two_weeks, "energy_meter", "activePower")
    meters = two_weeks.city.sensors_of("energy_meter")
    offices = [i for i, p in enumerate(meters) if buildings[p.observes].use == "office"]
    assert offices
    weekday = power[offices][:, at(two_weeks, 11.0, weekend=False)].mean()
    weekend = power[offices][:, at(two_weeks, 11.0, weekend=True)].mean()
    assert weekend < 0.8 * weekday


def test_the_energy_register_counts_up(two_weeks: Dataset) -> None:
    register = column(two_weeks, "energy_meter", "totalActiveEnergyImport")
    assert np.all(np.diff(register, axis=1) >= 0)


def test_sensor_noise_is_autocorrelated_not_white(two_weeks: Dataset) -> None:
    pressure = column(two_weeks, "weather", "atmosphericPressure")
    residual = pressure - pressure.mean(axis=0)  # what one station adds to the city's weather
    lag1 = [np.corrcoef(r[:-1], r[1:])[0, 1] for r in residual]
    assert np.mean(lag1) > 0.9


def test_sensors_of_a_kind_differ_by_their_offsets(two_weeks: Dataset) -> None:
    temperature = column(two_weeks, "weather", "temperature")
    means = temperature.mean(axis=1)
    assert means.std() > 0.1  # the same weather, a different calibration each


def test_ar1_keeps_unit_spread_and_memory() -> None:
    series = ar1(np.random.default_rng(0), 3, 20_000, np.array([600.0, 3600.0, 60.0]), 60.0)
    assert np.allclose(series.std(axis=1), 1.0, atol=0.15)
    lag1 = [np.corrcoef(s[:-1], s[1:])[0, 1] for s in series]
    assert lag1[1] > lag1[0] > lag1[2]


def test_weather_is_deterministic_and_storms_bring_rain_and_wind() -> None:
    period = Period(1_748_822_400.0, 600.0, 6 * 24 * 60)  # 60 days
    one, other = make_weather(5, period, 1.0), make_weather(5, period, 1.0)
    assert np.array_equal(one.rain, other.rain)
    stormy = one.storm > 0.5
    assert stormy.any()
    assert (~stormy).any()
    assert one.wind[stormy].mean() > one.wind[~stormy].mean() + 2.0
    assert np.all(one.rain[one.storm == 0] == 0)
    assert one.pressure[stormy].mean() < one.pressure[~stormy].mean()


def test_a_larger_fleet_does_not_change_a_sensors_noise() -> None:
    small = make_dataset(DatasetPlan(seed=4, sensors=16, days=1))
    large = make_dataset(DatasetPlan(seed=4, sensors=40, days=1))
    for kind, block in small.clean.items():
        assert np.array_equal(block.values, large.clean[kind].values[: len(block.sensors)])
