"""A small multilayer perceptron trained with Adam in numpy: features in, P(anomaly) out."""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

Floats = npt.NDArray[np.float64]
Floats32 = npt.NDArray[np.float32]


@dataclass(frozen=True, slots=True)
class Weights:
    """Layer weights and biases, input first; ReLU between layers, sigmoid at the end."""

    w: tuple[Floats, ...]
    b: tuple[Floats, ...]

    @property
    def parameters(self) -> int:
        """Number of weights and biases."""
        return sum(w.size + b.size for w, b in zip(self.w, self.b, strict=True))


@dataclass(frozen=True, slots=True)
class Fit:
    """How to train."""

    hidden: tuple[int, ...] = (32, 16)
    epochs: int = 6
    batch: int = 1024
    rate: float = 3e-3
    decay: float = 1e-5
    seed: int = 0


def init(sizes: list[int], rng: np.random.Generator) -> Weights:
    """He-initialised weights for layer sizes ``sizes`` (input first, 1 last)."""
    w = tuple(rng.normal(0, np.sqrt(2 / a), (a, b)) for a, b in itertools.pairwise(sizes))
    b = tuple(np.zeros(s) for s in sizes[1:])
    return Weights(w, b)


def logits(weights: Weights, x: Floats | Floats32) -> Floats:
    """The network's logit for each row of ``x``."""
    h = np.asarray(x, dtype=np.float64)
    for i, (w, b) in enumerate(zip(weights.w, weights.b, strict=True)):
        h = h @ w + b
        if i < len(weights.w) - 1:
            h = np.maximum(h, 0.0)
    return h[:, 0]


def predict(weights: Weights, x: Floats | Floats32) -> Floats:
    """P(anomaly) for each row."""
    return 1 / (1 + np.exp(-np.clip(logits(weights, x), -40, 40)))


def _gradients(
    weights: Weights, x: Floats, y: Floats, sw: Floats
) -> tuple[list[Floats], list[Floats]]:
    acts = [x]
    h = x
    for i, (w, b) in enumerate(zip(weights.w, weights.b, strict=True)):
        h = h @ w + b
        if i < len(weights.w) - 1:
            h = np.maximum(h, 0.0)
        acts.append(h)
    p = 1 / (1 + np.exp(-np.clip(h[:, 0], -40, 40)))
    delta = ((p - y) * sw / sw.sum())[:, None]  # weighted mean cross-entropy
    gw: list[Floats] = []
    gb: list[Floats] = []
    for i in range(len(weights.w) - 1, -1, -1):
        gw.insert(0, acts[i].T @ delta)
        gb.insert(0, delta.sum(axis=0))
        if i:
            delta = (delta @ weights.w[i].T) * (acts[i] > 0)
    return gw, gb


def train(x: Floats32, y: npt.NDArray[np.bool_], sample_weight: Floats, fit: Fit) -> Weights:
    """Fit by Adam on weighted binary cross-entropy; deterministic for a given ``fit.seed``."""
    rng = np.random.default_rng(fit.seed)
    weights = init([x.shape[1], *fit.hidden, 1], rng)
    params = [*weights.w, *weights.b]
    m = [np.zeros_like(p) for p in params]
    v = [np.zeros_like(p) for p in params]
    target = y.astype(np.float64)
    t = 0
    for _ in range(fit.epochs):
        order = rng.permutation(len(x))
        for lo in range(0, len(x), fit.batch):
            rows = order[lo : lo + fit.batch]
            gw, gb = _gradients(
                weights, x[rows].astype(np.float64), target[rows], sample_weight[rows]
            )
            t += 1
            for k, grad in enumerate([*gw, *gb]):
                g = grad + fit.decay * params[k]
                m[k] = 0.9 * m[k] + 0.1 * g
                v[k] = 0.999 * v[k] + 0.001 * g * g
                step = fit.rate * (m[k] / (1 - 0.9**t)) / (np.sqrt(v[k] / (1 - 0.999**t)) + 1e-8)
                params[k] -= step  # in place: params are the arrays inside ``weights``
    return weights
