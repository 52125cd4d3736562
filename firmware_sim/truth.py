"""The ground truth of a live run: which anomalies its sensors sent, from when to when.

A live run's world injects anomalies block by block (``live.LiveWorld``). The run tells the
``TruthLog`` which labels touched each reading it handed to the broker (or, for a dropout,
each reading the sensor could not take); a label is written with the observation times of the
first and the last of those readings, so it covers exactly the anomalous readings that went
out. An anomaly the run never reached is not written; one the run cut short ends at the last
reading it touched. The file has the columns of ``sim export``'s labels.csv.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from firmware_sim.anomalies import Label
from firmware_sim.errors import SimConfigError, SimError
from firmware_sim.export import LABEL_COLUMNS

Touched = Iterable[tuple[int, Label]]  # (block index, label), as LiveWorld.anomalies gives


class TruthLog:
    """The labels a live run has sent so far, each with its first and last observation time."""

    def __init__(self) -> None:
        self._spans: dict[tuple[int, Label], tuple[float, float]] = {}

    def __len__(self) -> int:
        return len(self._spans)

    def sent(self, touched: Touched, ts: float) -> None:
        """A reading observed at ``ts`` went out with these anomalies in it."""
        for key in touched:
            first, last = self._spans.get(key, (ts, ts))
            self._spans[key] = (min(first, ts), max(last, ts))

    def dropped(self, touched: Touched, ts: float) -> None:
        """The reading due at ``ts`` was not taken: only a dropout explains that."""
        self.sent(((b, label) for b, label in touched if label.type == "dropout"), ts)

    def rows(self) -> list[tuple[str, ...]]:
        """The labels as CSV rows, by start time, then sensor, metric and type."""
        rows = [_row(block, label, span) for (block, label), span in self._spans.items()]
        return sorted(rows, key=lambda r: (float(r[3]), r[0], r[2], r[5]))


def _row(block: int, label: Label, span: tuple[float, float]) -> tuple[str, ...]:
    cause = "fault" if label.fault else "event"
    # Event ids count from 0 in every block of the world: the block makes them unique.
    event = f"{label.event}@{block}" if label.event else ""
    start, end = (_seconds(t) for t in span)
    return (label.sensor, label.kind, label.metric, start, end, label.type, cause, event)


def _seconds(t: float) -> str:
    """Epoch seconds with the milliseconds the wire carries, and no trailing zeros."""
    return f"{t:.3f}".rstrip("0").rstrip(".")


def open_labels(path: Path) -> Path:
    """Check now, before anything connects, that the labels file can be written."""
    try:
        path.write_text(",".join(LABEL_COLUMNS) + "\n", encoding="utf-8", newline="")
    except OSError as exc:
        message = f"labels: cannot write {path}: {exc.strerror}"
        raise SimConfigError(message, field="labels") from exc
    return path


def write_labels(log: TruthLog, path: Path) -> int:
    """Write every label of ``log`` to ``path`` as CSV; the number written."""
    rows = log.rows()
    lines = [",".join(LABEL_COLUMNS), *map(",".join, rows)]
    try:
        path.write_text("\n".join(lines) + "\n", encoding="utf-8", newline="")
    except OSError as exc:
        raise SimError(f"labels: cannot write {path}: {exc.strerror}") from exc
    return len(rows)
