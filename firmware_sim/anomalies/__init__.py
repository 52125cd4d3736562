"""Anomalies injected into a dataset, each with its ground-truth label.

faults.py   sensor faults, per sensor: spike, level shift, drift, stuck-at, dropout, noise
            burst, out-of-range
events.py   real-world events across sensors: traffic incident, pollution episode, sewage
            overflow after heavy rain

Events change what the sensors truly observe, so they are applied first; sensor faults then
distort or drop the readings, whatever they observe. Every changed sample lies in a label's
window and every labelled sample is changed (a stuck sensor excepted when the value it sticks
at is what it would have read anyway).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

from firmware_sim.anomalies.events import inject_events
from firmware_sim.anomalies.faults import inject_faults
from firmware_sim.anomalies.labels import ALL_METRICS, Label, Rates
from firmware_sim.world.context import Context
from firmware_sim.world.series import KindSeries

__all__ = ["ALL_METRICS", "Label", "Rates", "inject"]


def inject(
    ctx: Context, series: Mapping[str, KindSeries], rates: Rates
) -> tuple[dict[str, KindSeries], tuple[Label, ...]]:
    """Copies of ``series`` with events and faults injected, and the labels of all of them."""
    out = {k: dataclasses.replace(s, values=s.values.copy()) for k, s in series.items()}
    labels = inject_events(ctx, out, rates)
    labels += inject_faults(ctx, out, rates)
    return out, tuple(sorted(labels, key=Label.sort_key))
