"""What each kind of sensor would read if it were perfect: physics and habits, no noise.

One function per kind takes the shared Context and that kind's sensors and returns an array
(sensors, samples, metrics) in catalogue order. Sensor quirks and noise come later
(``world.signals``); anomalies later still.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

import numpy as np

from firmware_sim.city import PlacedSensor
from firmware_sim.world.calendar import Floats, bump, home, shopping, working
from firmware_sim.world.context import Context

Sensors = tuple[PlacedSensor, ...]


def _stack(*columns: Floats) -> Floats:
    """Metric columns, each (sensors, samples) or broadcastable, as (sensors, samples, metrics)."""
    shape = np.broadcast_shapes(*(np.shape(c) for c in columns))
    return np.stack([np.broadcast_to(c, shape) for c in columns], axis=-1).astype(np.float64)


def _rows(values: list[float]) -> Floats:
    return np.array(values, dtype=np.float64).reshape(-1, 1)


def air_quality(ctx: Context, sensors: Sensors) -> Floats:
    """Traffic and background particles, diluted by wind and washed out by rain."""
    w = ctx.weather
    pollution = ctx.pollution(sensors)
    dilution = 1.6 / (1.0 + 0.3 * w.wind)  # wind lowers every pollutant
    washout = np.exp(-0.15 * w.rain)
    pm25 = (5.0 + 9.0 * ctx.traffic) * pollution * dilution * washout
    pm10 = 1.7 * pm25 + 3.0 * washout
    no2 = (10.0 + 50.0 * ctx.traffic) * np.sqrt(pollution) * dilution
    warmth = np.clip((w.temperature - 10.0) / 15.0, 0.0, 1.5)
    o3 = np.maximum(2.0, 30.0 + 55.0 * ctx.sun * warmth - 0.3 * no2)
    co = 0.15 + 0.6 * ctx.traffic * dilution * np.sqrt(pollution)
    return _stack(pm25, pm10, no2, o3, co)


def traffic_flow(ctx: Context, sensors: Sensors) -> Floats:
    """Vehicles per hour, speed and loop occupancy from the road's share of its capacity."""
    roads = {r.id: r for r in ctx.city.layout.roads}
    lanes = _rows([roads[s.observes].lanes for s in sensors])
    free = _rows([roads[s.observes].speed_limit + 5.0 for s in sensors])
    wet = np.minimum(ctx.weather.rain / 3.0, 1.0)
    demand = np.clip(ctx.traffic * (1.0 + 0.1 * wet), 0.0, 1.0)
    intensity = 900.0 * lanes * demand
    speed = np.maximum(3.0, free * (1.0 - 0.6 * demand**2) * (1.0 - 0.08 * wet))
    occupancy = 0.03 + 0.55 * demand**2
    return _stack(intensity, speed, occupancy)


def water_quality(ctx: Context, sensors: Sensors) -> Floats:
    """Sea water at beaches, fresh water in the river; rain runs off into both hours later."""
    outfalls = {b.id: b.outfall for b in ctx.city.layout.beaches}
    sea = _rows([s.observes != "river" for s in sensors])
    dirty = _rows([2.0 if outfalls.get(s.observes, True) else 1.0 for s in sensors])
    runoff = ctx.runoff * dirty
    t = ctx.weather.temperature
    temperature = sea * (17.0 + 0.08 * (t - 17.0)) + (1 - sea) * (14.0 + 0.3 * (t - 14.0))
    temperature = temperature + 0.4 * ctx.sun
    ph = sea * 8.1 + (1 - sea) * 7.6 - 0.15 * np.minimum(runoff, 2.0)
    wave = 0.5 * np.maximum(ctx.weather.wind - 4.0, 0.0)
    turbidity = sea * 2.0 + (1 - sea) * 8.0 + 15.0 * runoff + wave
    oxygen = 7.6 + 0.8 * ctx.sun - 0.05 * (temperature - 17.0) - 0.3 * np.minimum(runoff, 2.0)
    fresh = np.minimum(runoff, 3.0) / 3.0
    conductivity = sea * 52_000.0 * (1.0 - 0.3 * fresh) + (1 - sea) * 450.0
    ecoli = sea * 15.0 + (1 - sea) * 150.0 + 400.0 * runoff
    enterococci = sea * 8.0 + (1 - sea) * 60.0 + 180.0 * runoff
    return _stack(temperature, ph, turbidity, oxygen, conductivity, ecoli, enterococci)


def noise(ctx: Context, sensors: Sensors) -> Floats:
    """Traffic noise, plus rain on the pavement and wind in the trees."""
    w = ctx.weather
    laeq = 43.0 + 22.0 * ctx.traffic**0.7 + 1.5 * np.minimum(w.rain, 4.0) + 0.4 * w.wind
    laeq = np.broadcast_to(laeq, (len(sensors), ctx.period.samples))
    return _stack(laeq, laeq + 14.0)


def energy_meter(ctx: Context, sensors: Sensors) -> Floats:
    """A building's load: its use over the day and week, plus heating and cooling."""
    buildings = {b.id: b for b in ctx.city.layout.buildings}
    mine = [buildings[s.observes] for s in sensors]
    profiles = {
        "office": working(ctx.hours, ctx.weekend),
        "school": working(ctx.hours, ctx.weekend),
        "retail": shopping(ctx.hours, ctx.weekend),
        "residential": home(ctx.hours),
        "hospital": 0.8 + 0.2 * ctx.sun,
    }
    profile = np.stack([profiles.get(b.use, ctx.sun) for b in mine]) if mine else np.zeros((0, 1))
    area = _rows([b.floor_area_m2 for b in mine])
    t = ctx.weather.temperature
    degrees = np.maximum(t - 21.0, 0.0) + 0.5 * np.maximum(15.0 - t, 0.0)  # cooling, heating
    power = 5.0 + area * (0.004 * (0.3 + 0.7 * profile) + 0.0008 * degrees)
    start = _rows([50_000.0 + 5_000.0 * s.sensor.offset for s in sensors])
    register = start + np.cumsum(power, axis=1) * ctx.period.step_h
    peak = np.maximum(power.max(axis=1, keepdims=True), 1.0) if mine else 1.0
    factor = 0.86 + 0.1 * power / peak
    return _stack(power, register, factor)


def parking(ctx: Context, sensors: Sensors) -> Floats:
    """A car park fills with commuters on weekdays and shoppers at weekends."""
    buildings = {b.id: b for b in ctx.city.layout.buildings}
    spots = _rows([min(2_000, max(40, buildings[s.observes].floor_area_m2 // 25)) for s in sensors])
    wet = np.minimum(ctx.weather.rain / 3.0, 1.0)
    busy = np.where(ctx.weekend, 0.7 * bump(ctx.hours, 13.0, 3.0), working(ctx.hours, ctx.weekend))
    occupancy = np.clip(0.08 + 0.8 * busy + 0.05 * wet, 0.0, 1.0)
    return _stack(spots * (1.0 - occupancy), occupancy)


def weather(ctx: Context, sensors: Sensors) -> Floats:
    """The city's weather as each station sees it."""
    w = ctx.weather
    quantities = (w.temperature, w.humidity, w.rain, w.wind, w.wind_direction, w.pressure)
    return _stack(*(np.broadcast_to(q, (len(sensors), len(q))) for q in quantities))


def people_counter(ctx: Context, sensors: Sensors) -> Floats:
    """Beaches fill on warm, dry weekend afternoons; buildings during working hours."""
    w = ctx.weather
    beach = _rows([s.observes.startswith("beach") for s in sensors])
    warm = np.clip((w.temperature - 14.0) / 10.0, 0.0, 1.5)
    dry = np.exp(-0.8 * w.rain)
    crowd = 5.0 + 500.0 * bump(ctx.hours, 14.5, 2.5) * warm * dry * np.where(ctx.weekend, 1.8, 1.0)
    visitors = 5.0 + 200.0 * working(ctx.hours, ctx.weekend)
    return _stack(beach * crowd + (1 - beach) * visitors)


KIND_MODELS: Final[dict[str, Callable[[Context, Sensors], Floats]]] = {
    "air_quality": air_quality,
    "traffic_flow": traffic_flow,
    "water_quality": water_quality,
    "noise": noise,
    "energy_meter": energy_meter,
    "parking": parking,
    "weather": weather,
    "people_counter": people_counter,
}
