"""Hypothesis strategies for valid v1 values, drawn from the catalogue."""

from __future__ import annotations

from hypothesis import strategies as st

from shared.catalogue import KINDS, Metric
from shared.reading import MAX_SEQ, SENSOR_ID, Reading

sensor_ids = st.from_regex(SENSOR_ID, fullmatch=True)
seqs = st.integers(0, MAX_SEQ)
# Whole milliseconds from 1970 to 2096: what both codecs carry without rounding.
timestamps = st.none() | st.integers(0, 4_000_000_000_000).map(lambda ms: ms / 1000)


def values(metric: Metric) -> st.SearchStrategy[float]:
    """Any value a working sensor could report for ``metric``."""
    return st.floats(metric.low, metric.high, allow_nan=False, allow_infinity=False)


@st.composite
def metrics_of(draw: st.DrawFn, kind: str) -> dict[str, float]:
    """A non-empty metrics object valid for ``kind``."""
    available = list(KINDS[kind].metrics.values())
    chosen = draw(st.lists(st.sampled_from(available), min_size=1, unique_by=lambda m: m.name))
    return {metric.name: draw(values(metric)) for metric in chosen}


@st.composite
def readings(draw: st.DrawFn, sensor: str | None = None, kind: str | None = None) -> Reading:
    """A valid reading (of ``sensor`` and ``kind`` when given)."""
    kind = kind or draw(st.sampled_from(sorted(KINDS)))
    return Reading(
        sensor=sensor or draw(sensor_ids),
        kind=kind,
        seq=draw(seqs),
        ts=draw(timestamps),
        metrics=draw(metrics_of(kind)),
    )


@st.composite
def reading_batches(draw: st.DrawFn, max_size: int = 20) -> list[Reading]:
    """Readings of one sensor and kind, as a sensor would batch them."""
    sensor = draw(sensor_ids)
    kind = draw(st.sampled_from(sorted(KINDS)))
    return draw(st.lists(readings(sensor, kind), min_size=1, max_size=max_size))
