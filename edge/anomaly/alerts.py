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
from edge.streams import Registry


@dataclass(slots=True)
class _Incident:
    quiet: int = 0  # scores below ``off`` in a row since the last high one


def severity(score: float, policy: AlertPolicy) -> str:
    """``critical`` at or above the policy's critical score, else ``warning``."""
    return "critical" if score >= policy.critical else "warning"


def _finite(x: float) -> float | None:
    return x if math.isfinite(x) else None


class Alerter:
    """Open incidents per (sensor, metric) stream; emits an alert dict when one opens."""

    def __init__(self, policy: AlertPolicy | None = None) -> None:
        self.policy = policy or AlertPolicy()
        self._open: dict[int, _Incident] = {}  # by stream id
        self._streams = Registry()  # numbers the streams of callers that give no ids

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

        ``ids``: each reading's stream id, if the caller numbers its streams itself (as the
        pipeline does, once for its detector, windows and alerts); give them always or never.
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
        if ids is None:
            ids = self._streams.ids(sensor, metric)
        live = np.union1d(np.fromiter(opened, np.int64, len(opened)), ids[high])
        alerts: list[dict[str, Any]] = []
        for i in np.flatnonzero(np.isin(ids, live)).tolist():
            stream = int(ids[i])
            incident = opened.get(stream)
            s = float(scores[i])
            if incident is None:
                if s >= policy.on:
                    opened[stream] = _Incident()
                    alerts.append(self._alert(i, sensor, kind, metric, times, values, s,
                                              lows, highs, causes))  # fmt: skip
                continue
            incident.quiet = incident.quiet + 1 if s < policy.off else 0
            if incident.quiet >= policy.clear_after:
                del opened[stream]
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
