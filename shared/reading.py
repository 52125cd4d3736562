"""The reading: what a sensor says at one moment, as every transport decodes it."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from shared import catalogue
from shared.errors import SchemaError

SENSOR_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
MAX_SEQ = 2**32 - 1
# A number above this is an epoch in milliseconds, a common firmware slip we accept.
_MS_THRESHOLD = 1e11


@dataclass(frozen=True, slots=True)
class Reading:
    """One observation of one sensor: one or more metrics at one time.

    ``ts`` is the observation time in UTC epoch seconds, or None when the sensor has no clock
    (the receiver then stamps its own arrival time and says so).
    """

    sensor: str
    kind: str
    seq: int
    ts: float | None
    metrics: Mapping[str, float]


def check_sensor_id(value: object) -> str:
    """Return ``value`` if it is a valid sensor id, else raise SchemaError."""
    if not isinstance(value, str) or not SENSOR_ID.fullmatch(value):
        raise SchemaError(
            f"sensor: {value!r} is not a sensor id (1-64 of A-Z a-z 0-9 . _ -)",
            reason="bad_sensor",
        )
    return value


def check_seq(value: object) -> int:
    """Return ``value`` if it is a sequence number (integer 0..2^32-1), else raise SchemaError."""
    if value.__class__ is int and 0 <= value <= MAX_SEQ:  # the usual case, checked first
        return value
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_SEQ:
        raise SchemaError(f"seq: {value!r} is not an integer in 0..{MAX_SEQ}", reason="bad_seq")
    return value


def parse_ts(value: object) -> float | None:
    """Observation time from epoch seconds (or milliseconds), an RFC 3339 string, or None."""
    if value.__class__ is float and 0.0 <= value <= _MS_THRESHOLD:  # the usual case, first
        return value
    if value is None:
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        ts = _as_float(value)
        if not math.isfinite(ts) or ts < 0:
            raise SchemaError(f"ts: {value!r} is not a time", reason="bad_ts")
        return ts / 1000.0 if ts > _MS_THRESHOLD else ts
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            pass
        else:
            if parsed.tzinfo is None:
                raise SchemaError(f"ts: {value!r} has no time zone (add Z)", reason="bad_ts")
            if parsed.timestamp() < 0:
                raise SchemaError(f"ts: {value!r} is before 1970", reason="bad_ts")
            return parsed.timestamp()
    raise SchemaError(f"ts: {value!r} is neither epoch seconds nor RFC 3339", reason="bad_ts")


def _as_float(value: float) -> float:
    # A JSON integer too large for a float is as impossible as infinity: say so, do not crash.
    try:
        return float(value)
    except OverflowError:
        return math.inf


def check_metrics(kind_name: str, value: object) -> dict[str, float]:
    """Validate a metrics object against the catalogue entry of ``kind_name``.

    Returns ``value`` itself when every metric is already a float (the usual case, and the
    gateway's per-value hot path), else a new dict with integers made floats.
    """
    ranges = _RANGES.get(kind_name)
    if ranges is None:
        raise SchemaError(f"kind: unknown sensor kind {kind_name!r}", reason="unknown_kind")
    if not isinstance(value, dict) or not value:
        raise SchemaError("metrics: expected a non-empty object", reason="bad_metrics")
    converted = False
    for name, raw in value.items():
        bounds = ranges.get(name)
        if bounds is None:
            raise SchemaError(
                f"metrics.{name}: not a metric of {kind_name}", reason="unknown_metric"
            )
        number = raw
        if raw.__class__ is not float:
            if isinstance(raw, bool) or not isinstance(raw, (int, float)):
                raise SchemaError(f"metrics.{name}: {raw!r} is not a number", reason="bad_value")
            converted = True
            number = _as_float(raw)
        if not bounds[0] <= number <= bounds[1]:  # NaN fails both comparisons, so lands here too
            metric = catalogue.KINDS[kind_name].metric(name)
            assert metric is not None
            raise SchemaError(
                f"metrics.{name}: {raw!r} outside the possible range "
                f"[{metric.low:g}, {metric.high:g}] {metric.unit}",
                reason="out_of_range",
            )
    if not converted:
        return value
    return {name: _as_float(raw) for name, raw in value.items()}


# Per kind, every metric it may send with its possible range (its own before device metrics).
_RANGES: Final = {
    k.name: {
        m.name: (m.low, m.high) for m in (*catalogue.DEVICE_METRICS.values(), *k.metrics.values())
    }
    for k in catalogue.KINDS.values()
}
