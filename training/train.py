"""Training a detector model from labelled data: features, MLP, ONNX, int8, calibration, card."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from edge.anomaly.features import FEATURES
from edge.anomaly.model import AlertPolicy
from training import export, metrics, mlp, scoring
from training.calibration import isotonic_table
from training.data import Dataset, Readings, event_sizes, label_mask

Bools = npt.NDArray[np.bool_]


@dataclass(frozen=True, slots=True)
class TrainConfig:
    """What to train and how."""

    seed: int = 0
    hidden: tuple[int, ...] = (32, 16)
    epochs: int = 6
    negatives: float = 0.25  # share of normal readings kept for fitting (weighted back up)
    # Anomalous readings weigh (typical event size / their event's size) ** event_balance: at
    # 1 every event counts the same (a one-reading spike as much as a three-day drift), at 0
    # every reading does. Evaluation counts events, so 1 is the default (measured in the docs).
    event_balance: float = 1.0
    validation: float = 0.25  # share of sensors held out for calibration and alert tuning
    tolerance: float = 0.01  # largest mean |float - int8| raw output on validation rows


@dataclass(frozen=True, slots=True)
class TrainReport:
    """What training wrote and measured."""

    model: Path
    float_model: Path
    card: dict[str, Any]


def subset(readings: Readings, rows: Bools) -> Readings:
    """The readings where ``rows`` is true, still in time order."""
    r = readings
    days = r.days
    sensors = len(set(r.sensor[rows].tolist()))
    return Readings(r.sensor[rows], r.kind[rows], r.metric[rows], r.ts[rows], r.value[rows],
                    sensors, days)  # fmt: skip


def split_sensors(readings: Readings, share: float, seed: int) -> Bools:
    """True for rows of the sensors held out for validation (a ``share`` of them)."""
    names = sorted(set(readings.sensor.tolist()))
    rng = np.random.default_rng(seed)
    held = set(rng.choice(names, size=max(1, round(share * len(names))), replace=False).tolist())
    return np.array([s in held for s in readings.sensor.tolist()], dtype=bool)


def event_weights(sizes: npt.NDArray[np.float64], balance: float) -> npt.NDArray[np.float64]:
    """Weights of anomalous readings from their events' sizes, summing to their count."""
    if len(sizes) == 0 or balance == 0:
        return np.ones(len(sizes))
    sizes = np.maximum(sizes, 1.0)
    w = (float(sizes.mean()) / sizes) ** balance
    out: npt.NDArray[np.float64] = w * (len(w) / w.sum())  # the classes keep their balance
    return out


def tune_policy(
    readings: Readings, scores: npt.NDArray[np.float64], dataset: Dataset, held: set[str]
) -> tuple[AlertPolicy, float]:
    """The alert threshold with the best event-level F1 on validation sensors."""
    labels = tuple(label for label in dataset.labels if label.sensor in held)
    best = (AlertPolicy(), -1.0)
    for on in (0.3, 0.4, 0.5, 0.6, 0.7, 0.8):
        policy = AlertPolicy(on=on, off=on / 2, clear_after=6)
        alerts = scoring.alerts_from_scores(readings, scores, policy)
        f1 = metrics.score(alerts, labels, readings.sensors * readings.days)[metrics.ALL].f1
        if f1 > best[1]:
            best = (policy, f1)
    return best


def train(dataset: Dataset, out: Path, config: TrainConfig, name: str = "model") -> TrainReport:
    """Train on ``dataset`` and write ``name``.onnx (int8), ``name``.float.onnx and their cards."""
    readings = dataset.readings
    x = scoring.features(readings)
    y = label_mask(readings, dataset.labels)
    held = split_sensors(readings, config.validation, config.seed)
    rng = np.random.default_rng(config.seed)
    keep = ~held & (y | (rng.random(len(y)) < config.negatives))
    weight = np.where(y[keep], 1.0, 1 / config.negatives)  # restores the true class balance
    weight[y[keep]] = event_weights(event_sizes(readings, dataset.labels)[keep & y],
                                    config.event_balance)  # fmt: skip
    fit = mlp.Fit(hidden=config.hidden, epochs=config.epochs, seed=config.seed)
    weights = mlp.train(x[keep], y[keep], weight, fit)

    out.mkdir(parents=True, exist_ok=True)
    float_path, int8_path = out / f"{name}.float.onnx", out / f"{name}.onnx"
    export.to_onnx(weights, float_path)
    export.quantize(float_path, int8_path, x[keep][:: max(1, int(keep.sum()) // 100_000)])
    raw_float = export.run(float_path, x[held])
    raw_int8 = export.run(int8_path, x[held])
    worst = export.check_agreement(raw_float, raw_int8, config.tolerance)

    validation = scoring_subset = subset(readings, held)
    held_names = set(validation.sensor.tolist())
    figures: dict[str, dict[str, float]] = {}
    cards: dict[str, dict[str, Any]] = {}
    for label, raw, path in (("int8", raw_int8, int8_path), ("float", raw_float, float_path)):
        table = isotonic_table(raw.astype(np.float64), y[held])
        calibrated = np.interp(raw, table[0], table[1])
        policy, f1 = tune_policy(scoring_subset, calibrated, dataset, held_names)
        figures[label] = {"validation_event_f1": round(f1, 4)}
        cards[label] = {"calibration": {"raw": table[0], "score": table[1]},
                        "alerting": _policy_dict(policy), "path": path}  # fmt: skip
    sizes = (export.weight_bytes(float_path), export.weight_bytes(int8_path))
    common = _card_common(dataset, config, weights, worst, figures, sizes)
    written: dict[str, Any] = {}
    for label, extra in cards.items():
        path = extra.pop("path")
        body = {**common, **extra, "precision": label}
        body["version"] = f"{common['version']}-{label}" if label == "float" else common["version"]
        export.write_card(path, body)
        written[label] = body
    return TrainReport(int8_path, float_path, written["int8"])


def _policy_dict(policy: AlertPolicy) -> dict[str, float]:
    return {"on": policy.on, "off": policy.off, "clear_after": policy.clear_after,
            "critical": policy.critical}  # fmt: skip


def _card_common(
    dataset: Dataset, config: TrainConfig, weights: mlp.Weights,
    worst: dict[str, float], figures: dict[str, dict[str, float]], sizes: tuple[int, int],
) -> dict[str, Any]:  # fmt: skip
    r = dataset.readings
    return {
        "version": f"mlp{'-'.join(map(str, config.hidden))}-s{config.seed}-d{dataset.seed}",
        "model": {"type": "MLP", "layers": [len(FEATURES), *config.hidden, 1],
                  "parameters": weights.parameters, "activation": "relu, sigmoid output"},
        "input": {"name": "features", "dtype": "float32", "shape": ["n", len(FEATURES)],
                  "features": list(FEATURES), "computed_by": "edge.anomaly.features.step"},
        "output": {"name": "score", "shape": ["n", 1],
                   "meaning": "P(reading inside an anomaly), before calibration"},
        "data": {"folder": dataset.path.name, "seed": dataset.seed, "readings": len(r),
                 "labels": len(dataset.labels), "sensors": r.sensors,
                 "days": round(r.days, 2), "validation_sensor_share": config.validation},
        "training": {"seed": config.seed, "epochs": config.epochs,
                     "negatives_kept": config.negatives, "event_balance": config.event_balance},
        "quantization": {"method": "onnxruntime quantize_static, QDQ, int8 weights, uint8 inputs",
                         "weight_bytes_float": sizes[0], "weight_bytes_int8": sizes[1],
                         "agreement": worst},
        "metrics": figures,
    }  # fmt: skip
