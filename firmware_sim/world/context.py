"""What every sensor of a dataset shares: the city, the time axis, the weather, shared fields.

The pollution field is where neighbouring sensors meet: each district has its own slowly
varying pollution factor, and a sensor mixes the factors of the districts around it with
weights that fall off over about a kilometre, so sensors close together move together and
sensors across the city share only the regional background.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import numpy as np

from firmware_sim import streams
from firmware_sim.city import GeneratedCity, PlacedSensor
from firmware_sim.city.geo import centroid, distance
from firmware_sim.world.calendar import (
    DAY_S,
    Bools,
    Floats,
    Period,
    daytime,
    local_hours,
    traffic_demand,
    weekend,
)
from firmware_sim.world.noise import ar1, lagged
from firmware_sim.world.weather import Weather, make_weather

MIXING_KM: Final = 0.8
_DISTRICT_SPREAD, _REGIONAL_SPREAD = 0.45, 0.3


@dataclass(frozen=True, slots=True)
class Context:
    """The shared drivers of every signal over one period."""

    city: GeneratedCity
    period: Period
    hours: Floats  # local hour of day
    weekend: Bools
    sun: Floats  # 0..1, daytime shape
    traffic: Floats  # 0..1, the city's traffic demand
    weather: Weather
    runoff: Floats  # rain arriving at the shore, about 1 after 10 mm of rain
    regional: Floats  # log pollution background of the region
    districts: Floats  # (districts, samples): log pollution factor of each district

    def pollution(self, sensors: tuple[PlacedSensor, ...]) -> Floats:
        """(sensors, samples): the pollution factor at each sensor, 1 on average."""
        centres = [centroid(d.ring) for d in self.city.layout.districts]
        weights = np.array(
            [[np.exp(-0.5 * (distance(s.position, c) / MIXING_KM) ** 2) for c in centres]
             for s in sensors]
        )  # fmt: skip
        weights /= np.sqrt((weights**2).sum(axis=1, keepdims=True))  # keeps the spread
        local = weights @ self.districts if len(sensors) else np.zeros((0, self.period.samples))
        return np.asarray(np.exp(local + self.regional))


def make_context(city: GeneratedCity, period: Period) -> Context:
    """The drivers of ``city`` over ``period``: a pure function of the city's seed."""
    times = period.times()
    offset = city.site.utc_offset_h
    hours = local_hours(times, offset)
    is_weekend = weekend(times, offset)
    weather = make_weather(city.seed, period, offset)
    rng = np.random.default_rng([city.seed, streams.FIELDS])
    count = len(city.layout.districts)
    taus = np.array([2 * DAY_S] + [8 * 3600.0] * count)
    fields = ar1(rng, count + 1, period.samples, taus, period.step_s)
    runoff = lagged(weather.rain * period.step_h, period.step_h, peak_h=5.0, span_h=72.0) / 10.0
    return Context(
        city=city,
        period=period,
        hours=hours,
        weekend=is_weekend,
        sun=daytime(hours),
        traffic=traffic_demand(hours, is_weekend),
        weather=weather,
        runoff=runoff,
        regional=_REGIONAL_SPREAD * fields[0],
        districts=_DISTRICT_SPREAD * fields[1:],
    )
