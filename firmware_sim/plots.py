"""Pictures of a simulated week: one PNG per sensor kind, with the rain and the anomalies.

Each figure shows one sensor of the kind, one panel per metric: the reading as sent (with
anomalies), the clean value beneath it, injected anomaly windows shaded (red: sensor fault,
orange: real-world event), and the city's rain on the top panel's right axis.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from firmware_sim.dataset import Dataset, DatasetPlan, make_dataset
from firmware_sim.errors import SimConfigError

_FAULT, _EVENT = "#d62728", "#ff7f0e"


def _pyplot() -> Any:
    try:
        import matplotlib as mpl

        mpl.use("Agg")  # files only: no display needed
        import matplotlib.pyplot as plt
    except ModuleNotFoundError as exc:
        raise SimConfigError(
            "plots need matplotlib: pip install 'citytwin[plots]'", field="plots"
        ) from exc
    return plt


def write_plots(seed: int, days: float, out: Path, sensors: int = 48) -> list[Path]:
    """One PNG per kind of ``days`` of city ``seed`` into ``out``; the files written."""
    plt = _pyplot()
    dataset = make_dataset(DatasetPlan(seed=seed, sensors=sensors, days=days))
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for kind in dataset.series:
        figure = _figure(plt, dataset, kind)
        path = out / f"{kind}.png"
        figure.savefig(path, dpi=90)
        plt.close(figure)
        written.append(path)
    return written


def _pick(dataset: Dataset, kind: str) -> int:
    """The row of the kind's most eventful sensor: the one with the most labels."""
    block = dataset.series[kind]
    counts = [sum(label.sensor == s for label in dataset.labels) for s in block.sensors]
    return int(np.argmax(counts))


def _figure(plt: Any, dataset: Dataset, kind: str) -> Any:
    block, clean = dataset.series[kind], dataset.clean[kind]
    row = _pick(dataset, kind)
    sensor = block.sensors[row]
    times = [datetime.fromtimestamp(t, UTC) for t in dataset.context.period.times()]
    metrics = block.metrics
    figure, axes = plt.subplots(len(metrics), 1, sharex=True, squeeze=False,
                                figsize=(11, 1.6 + 1.3 * len(metrics)))  # fmt: skip
    for index, (axis, metric) in enumerate(zip(axes[:, 0], metrics, strict=True)):
        axis.plot(times, clean.values[row, :, index], color="#bbbbbb", lw=0.8, label="clean")
        axis.plot(times, block.values[row, :, index], color="#1f77b4", lw=0.8, label="sent")
        axis.set_ylabel(metric, fontsize=8)
        axis.tick_params(labelsize=7)
        for label in dataset.labels:
            if label.sensor == sensor and label.metric in (metric, "*"):
                colour = _FAULT if label.fault else _EVENT
                axis.axvspan(times[label.first], times[label.last], color=colour, alpha=0.25)
    rain = axes[0, 0].twinx()
    rain.fill_between(times, dataset.context.weather.rain, color="#2ca02c", alpha=0.3, lw=0)
    rain.set_ylabel("rain mm/h", fontsize=7)
    rain.tick_params(labelsize=7)
    figure.suptitle(f"{kind}: {sensor}, seed {dataset.plan.seed} (grey: clean; shaded: "
                    "red sensor fault, orange event; green: rain)", fontsize=9)  # fmt: skip
    figure.tight_layout()
    return figure
