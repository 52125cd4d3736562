"""Real-world events: the city changes, and every sensor that observes the change shows it.

- traffic incident: on a road with a traffic sensor, in the daytime; speed drops and occupancy
  rises, on that road at once and on roads up to two intersections away a little later and
  less, then traffic recovers;
- pollution episode: particles rise and fall across one district for six hours to a day;
- sewage overflow: when 6 hours of rain pass ``Rates.overflow_mm``, beaches with a sewer
  outfall get a burst of bacteria and turbidity two hours later, fading over a day or two.
"""

from __future__ import annotations

from collections.abc import MutableMapping

import numpy as np

from firmware_sim import streams
from firmware_sim.anomalies.labels import Label, Rates, shifted
from firmware_sim.world.calendar import DAY_S, Floats
from firmware_sim.world.context import Context
from firmware_sim.world.series import KindSeries

Rng = np.random.Generator
_HOP_DELAY_S, _HOP_STRENGTH = 600.0, (1.0, 0.6, 0.35)


def inject_events(
    ctx: Context, series: MutableMapping[str, KindSeries], rates: Rates
) -> list[Label]:
    """Inject the city's events into ``series`` (in place) and return their labels."""
    rng = np.random.default_rng([ctx.city.seed, streams.EVENTS])
    days = ctx.period.samples * ctx.period.step_s / DAY_S
    labels: list[Label] = []
    for number in range(int(rng.poisson(rates.incidents_per_day * days))):
        labels += _incident(rng, ctx, series["traffic_flow"], f"incident-{number + 1}")
    for number in range(int(rng.poisson(rates.episodes_per_day * days))):
        labels += _episode(rng, ctx, series["air_quality"], f"episode-{number + 1}")
    for number, start in enumerate(overflow_starts(ctx, rates.overflow_mm)):
        labels += _overflow(rng, ctx, series["water_quality"], start, f"overflow-{number + 1}")
    return labels


def _mark(
    block: KindSeries, row: int, metrics: dict[str, Floats], first: int, kind: str, event: str
) -> list[Label]:
    """Add ``metrics``' deltas from sample ``first`` on row ``row``; label each metric."""
    labels = []
    for name, delta in metrics.items():
        index = block.metrics.index(name)
        last = min(first + len(delta), block.values.shape[1]) - 1
        window = block.values[row, first : last + 1, index]
        block.values[row, first : last + 1, index] = shifted(
            window, delta[: last + 1 - first], block.kind, index
        )
        labels.append(
            Label(block.sensor_at(row), block.kind, name, first, last, kind, False, event)
        )
    return labels


def _fading(length: int) -> Floats:
    """Full strength, then a linear recovery over the last 30%; never zero inside."""
    k = np.arange(length)
    return np.asarray(np.minimum(1.0, (length - k) / (0.3 * length)))


def _incident(rng: Rng, ctx: Context, block: KindSeries, event: str) -> list[Label]:
    if not block.sensors:
        return []
    placed = ctx.city.sensors_of("traffic_flow")
    origin = placed[int(rng.integers(len(placed)))].observes
    daytime = np.flatnonzero((ctx.hours > 7.0) & (ctx.hours < 20.0))
    start = int(daytime[int(rng.integers(len(daytime)))])
    length = 1 + int(rng.uniform(0.5, 2.0) * 3600.0 / ctx.period.step_s)
    hops = road_hops(ctx, origin, len(_HOP_STRENGTH) - 1)
    labels = []
    for row, sensor in enumerate(placed):
        if sensor.observes not in hops:
            continue
        hop = hops[sensor.observes]
        first = start + int(hop * _HOP_DELAY_S / ctx.period.step_s)
        if first >= ctx.period.samples:
            continue
        shape = _HOP_STRENGTH[hop] * _fading(length)
        x = block.values[row, first : first + length]
        shape = shape[: len(x)]
        speed, flow = (x[:, block.metrics.index(m)] for m in ("averageVehicleSpeed", "intensity"))
        deltas = {
            "averageVehicleSpeed": -(0.6 * speed + 1.0) * shape,
            "occupancy": 0.3 * shape + 0.01,
            "intensity": -(0.4 * flow + 5.0) * shape,
        }
        labels += _mark(block, row, deltas, first, "traffic_incident", event)
    return labels


def road_hops(ctx: Context, origin: str, most: int) -> dict[str, int]:
    """Roads within ``most`` intersections of ``origin``, with how many away (0: itself)."""
    roads = {r.id: r for r in ctx.city.layout.roads}
    hops = {origin: 0}
    frontier = [origin]
    for hop in range(1, most + 1):
        frontier = [n for road in frontier for n in roads[road].neighbours if n not in hops]
        hops.update(dict.fromkeys(frontier, hop))
    return hops


def _episode(rng: Rng, ctx: Context, block: KindSeries, event: str) -> list[Label]:
    placed = ctx.city.sensors_of("air_quality")
    if not placed:
        return []
    district = placed[int(rng.integers(len(placed)))].district
    length = 1 + int(rng.uniform(6.0, 24.0) * 3600.0 / ctx.period.step_s)
    start = int(rng.integers(0, max(ctx.period.samples - length, 1)))
    rise = np.sin(np.pi * np.arange(1, length + 1) / (length + 1))  # > 0 at every sample
    extra = rng.uniform(30.0, 80.0) * rise
    labels = []
    for row, sensor in enumerate(placed):
        if sensor.district == district:
            deltas = {"pm25": extra, "pm10": 1.6 * extra}
            labels += _mark(block, row, deltas, start, "pollution_episode", event)
    return labels


def overflow_starts(ctx: Context, threshold_mm: float) -> list[int]:
    """Samples at which sewers start to overflow: 2 h after 6-hour rain first passes
    ``threshold_mm``, at most once a day."""
    step_h = ctx.period.step_h
    window = max(1, round(6.0 / step_h))
    totals = np.convolve(ctx.weather.rain * step_h, np.ones(window))[: ctx.period.samples]
    starts: list[int] = []
    delay, gap = round(2.0 / step_h), round(24.0 / step_h)
    for index in np.flatnonzero(totals > threshold_mm):
        if (not starts or index + delay >= starts[-1] + gap) and index + delay < len(totals):
            starts.append(int(index) + delay)
    return starts


def _overflow(rng: Rng, ctx: Context, block: KindSeries, start: int, event: str) -> list[Label]:
    outfalls = {b.id for b in ctx.city.layout.beaches if b.outfall}
    length = 1 + int(rng.uniform(24.0, 48.0) * 3600.0 / ctx.period.step_s)
    fade = np.exp(-3.0 * np.arange(length) / length)
    burst = rng.uniform(3_000.0, 10_000.0) * fade
    labels = []
    for row, sensor in enumerate(ctx.city.sensors_of("water_quality")):
        if sensor.observes in outfalls:
            deltas = {"escherichiaColi": burst, "enterococci": 0.4 * burst,
                      "turbidity": 0.004 * burst}  # fmt: skip
            labels += _mark(block, row, deltas, start, "sewage_overflow", event)
    return labels
