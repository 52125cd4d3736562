"""Scores to alerts, with hysteresis: one incident of one stream is one alert."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from edge.anomaly.features import CAUSES
from edge.anomaly.model import AlertPolicy


@dataclass(slots=True)
class _Incident:
    quiet: int = 0  # scores below ``off`` in a row since the last high one


def severity(score: float, policy: AlertPolicy) -> str:
    """``critical`` at or above the policy's critical score, else ``warning``."""
    return "critical" if score >= policy.critical else "warning"


def _finite(x: float) -> float | None:
    return x if math.isfinite(x) else None


class Alerter:
    """Open incidents per (sensor, metric); emits an alert dict when one opens."""

    def __init__(self, policy: AlertPolicy | None = None) -> None:
        self.policy = policy or AlertPolicy()
        self._open: dict[tuple[str, str], _Incident] = {}
        self._ids: dict[tuple[str, str], int] = {}  # stream ids of open incidents, if given

    @property
    def open_incidents(self) -> int:
        """Incidents raised and not yet cleared."""
        return len(self._open)

    def update(
        self,
        sensor: Sequence[str],
        kind: Sequence[str],
        metric: Sequence[str],
        ts: npt.ArrayLike,
        value: npt.ArrayLike,
        score: npt.ArrayLike,
        low: npt.ArrayLike | None = None,
        high: npt.ArrayLike | None = None,
        cause: npt.ArrayLike | None = None,
        ids: npt.NDArray[np.int64] | None = None,
    ) -> list[dict[str, Any]]:
        """Feed scored readings in observation order; returns the alerts raised (no ``seq``).

        ``ids``, each reading's stream numbered as the caller's ``Registry`` does, let the
        rows that matter be found with numpy rather than one reading at a time.
        """
        scores = np.asarray(score, dtype=np.float64).reshape(-1)
        n = len(scores)
        lows = np.full(n, np.nan) if low is None else np.asarray(low, np.float64).reshape(-1)
        highs = np.full(n, np.nan) if high is None else np.asarray(high, np.float64).reshape(-1)
        causes = np.full(n, -1) if cause is None else np.asarray(cause).reshape(-1)
        times = np.asarray(ts, dtype=np.float64).reshape(-1)
        values = np.asarray(value, dtype=np.float64).reshape(-1)
        policy, opened = self.policy, self._open
        # Only streams with an open incident or a high score in this batch need Python.
        high = np.flatnonzero(scores >= policy.on).tolist()
        if ids is not None and len(self._ids) == len(opened):
            live_ids = np.union1d(np.fromiter(self._ids.values(), np.int64), ids[high])
            rows = np.flatnonzero(np.isin(ids, live_ids)).tolist()
        else:
            live = set(opened) | {(sensor[i], metric[i]) for i in high}
            rows = [i for i in range(n) if (sensor[i], metric[i]) in live] if live else []
        alerts: list[dict[str, Any]] = []
        for i in rows:
            key = (sensor[i], metric[i])
            incident = opened.get(key)
            s = float(scores[i])
            if incident is None:
                if s >= policy.on:
                    opened[key] = _Incident()
                    if ids is not None:
                        self._ids[key] = int(ids[i])
                    alerts.append(self._alert(i, sensor, kind, metric, times, values, s,
                                              lows, highs, causes))  # fmt: skip
                continue
            incident.quiet = incident.quiet + 1 if s < policy.off else 0
            if incident.quiet >= policy.clear_after:
                del opened[key]
                self._ids.pop(key, None)
        return alerts

    def _alert(
        self, i: int, sensor: Sequence[str], kind: Sequence[str], metric: Sequence[str],
        ts: Any, value: Any, score: float, low: Any, high: Any, cause: Any,
    ) -> dict[str, Any]:  # fmt: skip
        code = int(cause[i])
        lo, hi = _finite(float(low[i])), _finite(float(high[i]))
        return {
            "type": "alert",
            "sensor": sensor[i],
            "kind": kind[i],
            "metric": metric[i],
            "ts": float(ts[i]),
            "value": float(value[i]),
            "low": lo,
            "high": hi,
            "score": round(score, 4),
            "severity": severity(score, self.policy),
            "reason": CAUSES[code] if 0 <= code < len(CAUSES) else "",
        }
