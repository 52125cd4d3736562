"""Evaluation tables as text (Markdown) and JSON."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from training.evaluate import Evaluation
from training.metrics import ALL


def _delay(minutes: float | None) -> str:
    return "-" if minutes is None else f"{minutes:.0f}"


def table(evaluation: Evaluation) -> str:
    """A Markdown table: one row per anomaly type, F1 / FA per sensor-day per detector."""
    detectors = list(evaluation.figures)
    types = [*sorted(t for t in evaluation.figures[detectors[0]] if t != ALL), ALL]
    head = ["type", "events"]
    for d in detectors:
        head += [f"{d} P", f"{d} R", f"{d} F1", f"{d} delay min", f"{d} FA/sensor-day"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for t in types:
        row = [t, str(evaluation.figures[detectors[0]][t].events)]
        for d in detectors:
            f = evaluation.figures[d][t]
            row += [f"{f.precision:.2f}", f"{f.recall:.2f}", f"{f.f1:.2f}", _delay(f.delay_min),
                    f"{f.false_per_sensor_day:.3f}"]  # fmt: skip
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


def summary(evaluation: Evaluation) -> str:
    """One line per detector: overall F1 and false alarms, and time taken."""
    out = []
    for d, figures in evaluation.figures.items():
        f = figures[ALL]
        out.append(
            f"{d}: F1 {f.f1:.3f} (P {f.precision:.3f}, R {f.recall:.3f}), "
            f"{f.false_per_sensor_day:.3f} false alarms per sensor-day, "
            f"{evaluation.seconds[d]:.1f} s"
        )
    return "\n".join(out)


def as_json(evaluation: Evaluation) -> dict[str, Any]:
    """The evaluation as plain JSON-ready data."""
    return {
        "dataset": evaluation.dataset,
        "readings": evaluation.readings,
        "sensor_days": evaluation.sensor_days,
        "model_version": evaluation.model_version,
        "seconds": evaluation.seconds,
        "figures": {
            d: {t: asdict(f) for t, f in fs.items()} for d, fs in evaluation.figures.items()
        },
    }
