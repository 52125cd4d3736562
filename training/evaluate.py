"""Evaluation of the model and the classic baselines on one labelled dataset, side by side."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from edge.anomaly.detector import Detector
from training import metrics, scoring
from training.baselines import MAD, ZSCORE, Baseline
from training.data import Dataset


@dataclass(frozen=True, slots=True)
class Evaluation:
    """Figures per detector and anomaly type, and how long each detector took."""

    dataset: str
    readings: int
    sensor_days: float
    model_version: str
    figures: dict[str, dict[str, metrics.Figures]]  # detector -> type -> figures
    seconds: dict[str, float]


def evaluate(
    dataset: Dataset, model: Path | None = None, baselines: tuple[Baseline, ...] = (ZSCORE, MAD)
) -> Evaluation:
    """Score ``dataset`` with the model and each baseline; event-level figures for each."""
    readings = dataset.readings
    sensor_days = readings.sensors * readings.days
    detector = Detector.load(model)
    figures: dict[str, dict[str, metrics.Figures]] = {}
    seconds: dict[str, float] = {}
    began = time.perf_counter()
    scores = scoring.model_scores(readings, detector)
    alerts = scoring.alerts_from_scores(readings, scores, detector.model.card.policy)
    seconds["model"] = time.perf_counter() - began
    figures["model"] = metrics.score(alerts, dataset.labels, sensor_days)
    clear_after = detector.model.card.policy.clear_after
    for baseline in baselines:
        began = time.perf_counter()
        flags = scoring.baseline_scores(readings, baseline)
        alerts = scoring.alerts_from_scores(readings, flags, scoring.flag_policy(clear_after))
        seconds[baseline.name] = time.perf_counter() - began
        figures[baseline.name] = metrics.score(alerts, dataset.labels, sensor_days)
    return Evaluation(dataset.path.name, len(readings), sensor_days, detector.version, figures,
                      seconds)  # fmt: skip
