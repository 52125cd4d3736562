"""Running detectors over a whole dataset, in time-ordered chunks, the way the gateway would."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import numpy.typing as npt

from edge.anomaly.alerts import Alerter
from edge.anomaly.detector import Detector, Featurizer
from edge.anomaly.model import AlertPolicy
from training.baselines import Baseline
from training.data import Readings, stream_rows
from training.metrics import Alert

CHUNK = 100_000  # readings per call: the agent's batches are smaller, the state is the same

Floats32 = npt.NDArray[np.float32]


def _chunks(n: int) -> Iterator[slice]:
    for lo in range(0, n, CHUNK):
        yield slice(lo, min(lo + CHUNK, n))


def features(readings: Readings) -> Floats32:
    """Model inputs of every reading (the runtime's own feature code)."""
    featurizer = Featurizer()
    parts = [
        featurizer.run(
            readings.sensor[s].tolist(),
            readings.metric[s].tolist(),
            readings.ts[s],
            readings.value[s],
        )[0]
        for s in _chunks(len(readings))
    ]
    return np.concatenate(parts) if parts else np.zeros((0, 0), dtype=np.float32)


def alerts_from_scores(
    readings: Readings, scores: npt.NDArray[np.float64], policy: AlertPolicy
) -> list[Alert]:
    """Alerts an Alerter with ``policy`` raises on per-reading ``scores``."""
    alerter = Alerter(policy)
    out: list[Alert] = []
    for s in _chunks(len(readings)):
        sensors, metrics = readings.sensor[s].tolist(), readings.metric[s].tolist()
        raised = alerter.update(
            sensors,
            readings.kind[s].tolist(),
            metrics,
            readings.ts[s],
            readings.value[s],
            scores[s],
        )
        out.extend(Alert(a["sensor"], a["metric"], a["ts"]) for a in raised)
    return out


def model_scores(readings: Readings, detector: Detector) -> npt.NDArray[np.float64]:
    """The detector's calibrated score of every reading."""
    parts = [
        detector.score(
            readings.sensor[s].tolist(),
            readings.metric[s].tolist(),
            readings.ts[s],
            readings.value[s],
        )
        for s in _chunks(len(readings))
    ]
    return np.concatenate(parts).astype(np.float64) if parts else np.zeros(0)


def baseline_scores(readings: Readings, baseline: Baseline) -> npt.NDArray[np.float64]:
    """1.0 where the baseline flags a reading, else 0.0."""
    flags = np.zeros(len(readings))
    for rows in stream_rows(readings).values():
        flags[rows] = baseline.flags(readings.value[rows])
    return flags


def flag_policy(clear_after: int) -> AlertPolicy:
    """The hysteresis applied to a baseline's 0/1 flags: the same grouping as the model's."""
    return AlertPolicy(on=0.5, off=0.5, clear_after=clear_after, critical=1.0)
