"""Labelled datasets written by ``citytwin sim export``, as one long table of readings."""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from training.errors import DataError

Floats = npt.NDArray[np.float64]
Bools = npt.NDArray[np.bool_]
Strings = npt.NDArray[np.object_]


@dataclass(frozen=True, slots=True)
class Label:
    """One injected anomaly: a sensor's metric (``*``: all) from ``start`` to ``end``, included."""

    sensor: str
    kind: str
    metric: str
    start: float
    end: float
    type: str
    cause: str


@dataclass(frozen=True, slots=True)
class Readings:
    """Every (sensor, metric) reading of a dataset, in time order (stable across metrics)."""

    sensor: Strings
    kind: Strings
    metric: Strings
    ts: Floats
    value: Floats
    sensors: int
    days: float

    def __len__(self) -> int:
        return len(self.ts)


@dataclass(frozen=True, slots=True)
class Dataset:
    """Readings and labels of one folder."""

    path: Path
    readings: Readings
    labels: tuple[Label, ...]
    seed: int | None


def _kind_table(path: Path, kind: str) -> tuple[list[Strings], list[Floats]]:
    with path.open(encoding="utf-8", newline="") as f:
        rows = list(csv.reader(f))
    if len(rows) < 2 or rows[0][:3] != ["ts", "sensor", "seq"]:
        raise DataError(f"{path}: expected a header ts,sensor,seq,... and at least one row")
    metrics = rows[0][3:]
    try:
        columns = list(zip(*rows[1:], strict=True))
        ts = np.array(columns[0], dtype=np.float64)
        sensors = np.array(columns[1], dtype=object)
        values = [np.array(columns[3 + i], dtype=np.float64) for i in range(len(metrics))]
    except ValueError as exc:
        raise DataError(f"{path}: {exc}") from exc
    n = len(ts)
    strings = [sensors, np.full(n, kind, dtype=object)]
    out_s: list[Strings] = []
    out_f: list[Floats] = []
    for name, value in zip(metrics, values, strict=True):
        out_s.extend([*strings, np.full(n, name, dtype=object)])
        out_f.extend([ts, value])
    return out_s, out_f


def load_readings(folder: Path) -> Readings:
    """All readings under ``folder/readings``, one row per (reading, metric), by time."""
    files = sorted((folder / "readings").glob("*.csv"))
    if not files:
        raise DataError(f"{folder}: no readings/*.csv (is it a `citytwin sim export` folder?)")
    s_parts: list[Strings] = []
    f_parts: list[Floats] = []
    for path in files:
        strings, floats = _kind_table(path, path.stem)
        s_parts.extend(strings)
        f_parts.extend(floats)
    sensor, kind, metric = (np.concatenate(s_parts[i::3]) for i in range(3))
    ts, value = (np.concatenate(f_parts[i::2]) for i in range(2))
    order = np.argsort(ts, kind="stable")
    days = float(ts.max() - ts.min()) / 86400 if len(ts) else 0.0
    return Readings(
        sensor[order],
        kind[order],
        metric[order],
        ts[order],
        value[order],
        len(set(sensor.tolist())),
        max(days, 1 / 24),
    )


def load_labels(folder: Path) -> tuple[Label, ...]:
    """The labels of ``folder/labels.csv``."""
    path = folder / "labels.csv"
    try:
        with path.open(encoding="utf-8", newline="") as f:
            rows = list(csv.DictReader(f))
        return tuple(
            Label(
                r["sensor"],
                r["kind"],
                r["metric"],
                float(r["start"]),
                float(r["end"]),
                r["type"],
                r["cause"],
            )
            for r in rows
        )
    except FileNotFoundError as exc:
        raise DataError(f"{path}: no such file") from exc
    except (KeyError, ValueError) as exc:
        raise DataError(f"{path}: {type(exc).__name__}: {exc}") from exc


def load(folder: Path) -> Dataset:
    """A labelled dataset folder."""
    if not folder.is_dir():
        raise DataError(f"{folder}: no such folder")
    seed = None
    manifest = folder / "manifest.json"
    if manifest.is_file():
        seed = json.loads(manifest.read_text(encoding="utf-8")).get("plan", {}).get("seed")
    return Dataset(folder, load_readings(folder), load_labels(folder), seed)


def stream_rows(readings: Readings) -> dict[tuple[str, str], npt.NDArray[np.int64]]:
    """Row indices of each (sensor, metric) stream, in time order."""
    keys = [f"{s}\x00{m}" for s, m in zip(readings.sensor.tolist(), readings.metric.tolist(),
                                            strict=True)]  # fmt: skip
    names, inverse = np.unique(np.array(keys, dtype=object), return_inverse=True)
    order = np.argsort(inverse, kind="stable")
    bounds = np.r_[0, np.cumsum(np.bincount(inverse, minlength=len(names)))]
    out = {}
    for i, name in enumerate(names.tolist()):
        sensor, metric = name.split("\x00")
        out[(sensor, metric)] = order[bounds[i] : bounds[i + 1]].astype(np.int64)
    return out


def label_rows(
    readings: Readings, labels: tuple[Label, ...], grace_s: float = 0.0
) -> list[npt.NDArray[np.int64]]:
    """The readings inside each label; a dropout's is the first reading after it."""
    streams = stream_rows(readings)
    by_sensor: dict[str, list[tuple[str, str]]] = {}
    for key in streams:
        by_sensor.setdefault(key[0], []).append(key)
    out = []
    for label in labels:
        parts = [np.zeros(0, dtype=np.int64)]
        keys = by_sensor.get(label.sensor, [])
        for key in keys if label.metric == "*" else [(label.sensor, label.metric)]:
            rows = streams.get(key)
            if rows is None:
                continue
            ts = readings.ts[rows]
            lo = np.searchsorted(ts, label.start, "left")
            hi = np.searchsorted(ts, label.end + grace_s, "right")
            if label.type == "dropout":
                lo = np.searchsorted(ts, label.end, "right")
                hi = lo + 1
            parts.append(rows[lo:hi])
        out.append(np.concatenate(parts))
    return out


def label_mask(readings: Readings, labels: tuple[Label, ...], grace_s: float = 0.0) -> Bools:
    """True for readings inside a label; a dropout marks the first reading after it."""
    mask = np.zeros(len(readings), dtype=bool)
    for rows in label_rows(readings, labels, grace_s):
        mask[rows] = True
    return mask


def event_sizes(readings: Readings, labels: tuple[Label, ...]) -> Floats:
    """For each reading, how many readings its label covers (the largest, if several); else 0."""
    size = np.zeros(len(readings))
    for rows in label_rows(readings, labels):
        size[rows] = np.maximum(size[rows], len(rows))
    return size
