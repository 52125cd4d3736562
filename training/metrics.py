"""Event-level scoring of alerts against labels. Pure: lists and arrays in, figures out.

An alert is a true positive if it names a labelled sensor and metric (or the label covers every
metric) and its time lies between the label's start and its end plus a grace period (a dropout
can only be seen when data resume; a return to normal is part of the incident). An event is
detected if at least one alert matches it. Precision per type counts the alerts matching that
type against the false alerts shared out in proportion to the type's share of events.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass
from typing import Final

from training.data import Label

GRACE_S: Final = 3600.0
ALL: Final = "all"


@dataclass(frozen=True, slots=True)
class Alert:
    """Where and when an alert was raised."""

    sensor: str
    metric: str
    ts: float


@dataclass(frozen=True, slots=True)
class Figures:
    """Event-level figures for one anomaly type (or ``all``) and one detector."""

    type: str
    events: int
    detected: int
    true_alerts: int
    false_alerts: float
    precision: float
    recall: float
    f1: float
    delay_min: float | None  # median, over detected events
    false_per_sensor_day: float


def _f1(p: float, r: float) -> float:
    return 2 * p * r / (p + r) if p + r > 0 else 0.0


def _median(xs: list[float]) -> float | None:
    if not xs:
        return None
    s = sorted(xs)
    mid = len(s) // 2
    return s[mid] if len(s) % 2 else (s[mid - 1] + s[mid]) / 2


def matches(alert: Alert, label: Label, grace_s: float = GRACE_S) -> bool:
    """True if ``alert`` counts as a detection of ``label``."""
    if alert.sensor != label.sensor or label.metric not in ("*", alert.metric):
        return False
    return label.start <= alert.ts <= label.end + grace_s


def score(
    alerts: list[Alert], labels: tuple[Label, ...], sensor_days: float, grace_s: float = GRACE_S
) -> dict[str, Figures]:
    """Figures per anomaly type and ``all``, for one detector's alerts."""
    by_sensor: dict[str, list[int]] = defaultdict(list)
    for i, label in enumerate(labels):
        by_sensor[label.sensor].append(i)
    first: dict[int, float] = {}
    true_by_type: dict[str, int] = defaultdict(int)
    false = 0
    for alert in alerts:
        hit = [i for i in by_sensor.get(alert.sensor, []) if matches(alert, labels[i], grace_s)]
        if not hit:
            false += 1
            continue
        for t in {labels[i].type for i in hit}:
            true_by_type[t] += 1
        for i in hit:
            first[i] = min(first.get(i, math.inf), alert.ts)
    types = sorted({label.type for label in labels})
    out = {t: _figures(t, labels, first, true_by_type[t], false, sensor_days) for t in types}
    true_all = len(alerts) - false
    out[ALL] = _figures(ALL, labels, first, true_all, false, sensor_days)
    return out


def _figures(
    kind: str, labels: tuple[Label, ...], first: dict[int, float], true: int, false: int,
    sensor_days: float,
) -> Figures:  # fmt: skip
    chosen = [i for i, label in enumerate(labels) if kind in (ALL, label.type)]
    share = len(chosen) / len(labels) if labels else 0.0
    false_share = false * share
    detected = [i for i in chosen if i in first]
    delays = [
        max(0.0, first[i] - (labels[i].end if labels[i].type == "dropout" else labels[i].start))
        / 60
        for i in detected
    ]
    precision = true / (true + false_share) if true + false_share > 0 else 0.0
    recall = len(detected) / len(chosen) if chosen else 0.0
    return Figures(
        kind, len(chosen), len(detected), true, false_share, precision, recall,
        _f1(precision, recall), _median(delays), false_share / max(sensor_days, 1e-9),
    )  # fmt: skip
