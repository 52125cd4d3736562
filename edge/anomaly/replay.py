"""Offline replay: a recorded ``timestamp,value`` series through the edge detector."""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import numpy.typing as npt

from edge.anomaly.detector import Detector
from edge.anomaly.errors import ReplayError

Floats = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class Series:
    """A parsed input: cells as written, epoch seconds and values (NaN where empty)."""

    stamps: list[str]
    cells: list[str]
    ts: Floats
    value: Floats


@dataclass(frozen=True, slots=True)
class ReplayReport:
    """What a replay did."""

    rows: int
    missing: int  # rows with an empty or non-finite value: scored 0
    max_score: float
    model_version: str


def parse_time(text: str) -> float:
    """Epoch seconds from a number or an ISO 8601 time (UTC when it names no zone)."""
    try:
        return float(text)
    except ValueError:
        pass
    stamp = datetime.fromisoformat(text.strip())
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=UTC)
    return stamp.timestamp()


def parse_value(text: str) -> float:
    """A float, or NaN for an empty cell."""
    return float(text) if text.strip() else math.nan


def read_series(text: str, name: str = "input") -> Series:
    """Parse CSV text with a header naming ``timestamp`` and ``value`` columns."""
    reader = csv.reader(io.StringIO(text))
    header = [h.strip().lower() for h in next(reader, [])]
    if "timestamp" not in header or "value" not in header:
        raise ReplayError(f"{name}: line 1: the header must name 'timestamp' and 'value' columns")
    t_col, v_col = header.index("timestamp"), header.index("value")
    stamps: list[str] = []
    cells: list[str] = []
    ts: list[float] = []
    values: list[float] = []
    for line, row in enumerate(reader, start=2):
        if not row:
            continue
        try:
            stamp = row[t_col]
            ts.append(parse_time(stamp))
            values.append(parse_value(row[v_col]))
        except IndexError:
            raise ReplayError(f"{name}: line {line}: expected {len(header)} columns") from None
        except ValueError as exc:
            raise ReplayError(f"{name}: line {line}: {exc}") from None
        stamps.append(stamp)
        cells.append(row[v_col])
    return Series(stamps, cells, np.array(ts, dtype=np.float64), np.array(values, dtype=np.float64))


def format_rows(series: Series, scores: npt.NDArray[np.float32]) -> str:
    """The output CSV: the input's timestamp and value cells, then the score."""
    lines = ["timestamp,value,anomaly_score"]
    lines += [f"{s},{v},{x:.4f}" for s, v, x in zip(series.stamps, series.cells, scores.tolist(),
                                                     strict=True)]  # fmt: skip
    return "\n".join(lines) + "\n"


def replay(source: Path, out: Path, detector: Detector | None = None) -> ReplayReport:
    """Score ``source`` (CSV: timestamp,value) causally and write timestamp,value,anomaly_score."""
    try:
        text = source.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ReplayError(f"{source}: not UTF-8 text") from exc
    series = read_series(text, str(source))
    detector = detector or Detector.load()
    n = len(series.ts)
    scores = detector.score(["replay"] * n, ["value"] * n, series.ts, series.value)
    out.write_text(format_rows(series, scores), encoding="utf-8")
    missing = int(np.count_nonzero(~np.isfinite(series.value)))
    return ReplayReport(n, missing, float(scores.max(initial=0.0)), detector.version)
