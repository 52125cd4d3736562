"""The city's weather: storms with rain and wind, temperature, humidity and pressure.

One weather for the whole city (a few kilometres), drawn from (seed, WEATHER). Storms arrive
at random, about one every two and a half days; each brings rain, stronger north-west wind,
falling pressure and a little cooling. Between storms every quantity wanders as AR(1) noise
around its daily cycle.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from firmware_sim import streams
from firmware_sim.world.calendar import DAY_S, Floats, Period, daytime, local_hours
from firmware_sim.world.noise import ar1

_STORMS_PER_DAY = 0.4


@dataclass(frozen=True, slots=True)
class Weather:
    """The weather at every sample of a period."""

    temperature: Floats  # degC
    rain: Floats  # mm/h
    wind: Floats  # m/s
    wind_direction: Floats  # degrees
    humidity: Floats  # fraction
    pressure: Floats  # hPa
    storm: Floats  # 0..1: how deep in a storm each sample is


def seasonal_mean(times: Floats) -> Floats:
    """Mean air temperature of a mild coastal city over the year, degC."""
    day_of_year = (times / DAY_S) % 365.25
    return 14.5 - 5.0 * np.cos(2.0 * np.pi * (day_of_year - 25.0) / 365.25)


def storm_profile(rng: np.random.Generator, period: Period) -> tuple[Floats, Floats]:
    """Storm depth (0..1) and rain rate (mm/h) at every sample."""
    times = period.times()
    span_days = period.samples * period.step_s / DAY_S
    count = int(rng.poisson(_STORMS_PER_DAY * max(span_days, 1.0)))
    storm = np.zeros(period.samples)
    rain = np.zeros(period.samples)
    for _ in range(count):
        start = period.start + rng.uniform(-0.2, 1.0) * span_days * DAY_S
        hours = float(rng.uniform(2.0, 10.0))
        peak = float(rng.lognormal(math.log(3.0), 0.7))  # median 3 mm/h, now and then 15
        phase = (times - start) / (hours * 3600.0)
        inside = (phase > 0) & (phase < 1)
        depth = np.where(inside, np.sin(np.pi * np.clip(phase, 0, 1)), 0.0)
        storm = np.maximum(storm, depth)
        rain += peak * depth
    gusts = np.exp(0.45 * ar1(rng, 1, period.samples, np.array([1800.0]), period.step_s)[0])
    return storm, rain * gusts


def make_weather(seed: int, period: Period, utc_offset_h: float) -> Weather:
    """The weather of city ``seed`` over ``period``."""
    rng = np.random.default_rng([seed, streams.WEATHER])
    times = period.times()
    sun = daytime(local_hours(times, utc_offset_h))
    storm, rain = storm_profile(rng, period)
    taus = np.array([2 * DAY_S, 6 * 3600.0, 6 * 3600.0, 6 * 3600.0, 2 * DAY_S])
    slow_t, wind_n, dir_n, hum_n, press_n = ar1(rng, 5, period.samples, taus, period.step_s)
    temperature = seasonal_mean(times) + 7.0 * (sun - 0.5) + 2.0 * slow_t - 3.0 * storm
    wind = np.maximum(0.0, 3.0 + 1.5 * sun + 1.0 * wind_n + 5.0 * storm)
    direction = (240.0 + 35.0 * dir_n + 60.0 * storm) % 360.0
    humidity = np.clip(0.78 - 0.2 * (sun - 0.5) + 0.05 * hum_n + 0.18 * storm, 0.2, 1.0)
    pressure = 1016.0 + 5.0 * press_n - 10.0 * storm
    return Weather(temperature, rain, wind, direction, humidity, pressure, storm)
