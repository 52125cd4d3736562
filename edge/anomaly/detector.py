"""The detector: causal per-stream state in numpy, features by prefix scans, one model call."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from edge.anomaly.features import FEATURES, step
from edge.anomaly.model import Model
from edge.anomaly.state import State
from edge.streams import Registry

Floats = npt.NDArray[np.float64]
Floats32 = npt.NDArray[np.float32]
Ints = npt.NDArray[np.int64]


@dataclass(frozen=True, slots=True)
class Scored:
    """Per reading: calibrated score, expected range in the reading's units, likely cause."""

    score: Floats32
    low: Floats
    high: Floats
    cause: Ints  # index into edge.anomaly.features.CAUSES


class Featurizer:
    """Causal per-stream state and the model inputs it yields (training uses it alone)."""

    def __init__(self) -> None:
        self._registry = Registry()
        self._state = State.empty()

    @property
    def streams(self) -> int:
        """How many (sensor, metric) streams have state."""
        return len(self._registry)

    def run(
        self, sensor: Sequence[str], metric: Sequence[str], ts: Floats, value: Floats
    ) -> tuple[Floats32, Floats, Floats, Ints]:
        """Features, expected low and high, cause of each reading, advancing each stream's state."""
        return self.run_ids(self._registry.ids(sensor, metric), ts, value)

    def run_ids(
        self, ids: Ints, ts: Floats, value: Floats
    ) -> tuple[Floats32, Floats, Floats, Ints]:
        """``run`` for streams the caller numbers itself (dense ids from 0; never mix the two)."""
        if len(ids):
            self._state.grow(int(ids.max()) + 1)
        return self._features(ids, ts, value)

    def _features(
        self, ids: Ints, ts: Floats, value: Floats
    ) -> tuple[Floats32, Floats, Floats, Ints]:
        n = len(ids)
        features = np.zeros((n, len(FEATURES)), dtype=np.float32)
        low = np.full(n, np.nan)
        high = np.full(n, np.nan)
        cause = np.zeros(n, dtype=np.int64)
        keep = np.flatnonzero(np.isfinite(value) & np.isfinite(ts))  # others are not readings
        if len(keep) == 0:
            return features, low, high, cause
        st = self._state
        out = step(st.cols, st.prof_mean, st.prof_var, st.prof_n, ids[keep], ts[keep],
                   value[keep])  # fmt: skip
        st.cols[out.streams] = out.cols
        bins = (out.bin_stream, out.bin_hour)
        st.prof_mean[bins], st.prof_var[bins], st.prof_n[bins] = (
            out.prof_mean, out.prof_var, out.prof_n,
        )  # fmt: skip
        features[keep], low[keep], high[keep], cause[keep] = (
            out.features, out.low, out.high, out.cause,
        )  # fmt: skip
        return features, low, high, cause


class Detector:
    """Scores readings of any number of streams causally; state is kept between calls."""

    def __init__(self, model: Model) -> None:
        self.model = model
        self._featurizer = Featurizer()

    @classmethod
    def load(cls, path: Path | str | None = None, *, threads: int = 1) -> Detector:
        """A detector on the model at ``path`` (the shipped default if None)."""
        return cls(Model.load(path, threads))

    @property
    def version(self) -> str:
        """The model's version, as heartbeats report it."""
        return self.model.card.version

    @property
    def streams(self) -> int:
        """How many (sensor, metric) streams have state."""
        return self._featurizer.streams

    def score(
        self,
        sensor: Sequence[str],
        metric: Sequence[str],
        ts: npt.ArrayLike,
        value: npt.ArrayLike,
    ) -> Floats32:
        """Calibrated anomaly score in [0, 1] of each reading, given in observation order."""
        return self.score_detail(sensor, metric, ts, value).score

    def score_detail(
        self,
        sensor: Sequence[str],
        metric: Sequence[str],
        ts: npt.ArrayLike,
        value: npt.ArrayLike,
    ) -> Scored:
        """Scores, expected ranges and likely causes; non-finite values score 0, change nothing."""
        times = np.asarray(ts, dtype=np.float64).reshape(-1)
        values = np.asarray(value, dtype=np.float64).reshape(-1)
        if not len(sensor) == len(metric) == len(times) == len(values):
            raise ValueError("sensor, metric, ts and value must have the same length")
        return self._score(self._featurizer.run(sensor, metric, times, values), values)

    def score_ids(self, ids: Ints, ts: Floats, value: Floats) -> Scored:
        """``score_detail`` for streams the caller numbers itself: dense ids from 0, as from
        one ``Registry`` of its own. A detector must be given ids always or never."""
        if not len(ids) == len(ts) == len(value):
            raise ValueError("ids, ts and value must have the same length")
        return self._score(self._featurizer.run_ids(ids, ts, value), value)

    def _score(self, out: tuple[Floats32, Floats, Floats, Ints], values: Floats) -> Scored:
        features, low, high, cause = out
        score = self.model.score(features)
        score[~np.isfinite(values)] = 0.0
        return Scored(score, low, high, cause)
