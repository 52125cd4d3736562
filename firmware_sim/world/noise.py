"""Random processes that are not white: AR(1) noise and delayed responses, vectorised."""

from __future__ import annotations

import numpy as np

from firmware_sim.world.calendar import Floats


def ar1(rng: np.random.Generator, rows: int, samples: int, tau_s: Floats, step_s: float) -> Floats:
    """``rows`` AR(1) series of unit spread, each forgetting over its own ``tau_s`` seconds."""
    return ar1_from(rng.standard_normal((samples, rows)), tau_s, step_s)


def ar1_from(shocks: Floats, tau_s: Floats, step_s: float) -> Floats:
    """(rows, samples) AR(1) series of unit spread driven by ``shocks`` (samples, rows)."""
    samples, rows = shocks.shape
    keep = np.exp(-step_s / np.maximum(tau_s, 1e-9)).reshape(rows)
    fresh = np.sqrt(1.0 - keep * keep)
    out = np.empty((samples, rows), dtype=np.float64)
    out[0] = shocks[0]  # start from the stationary spread
    for i in range(1, samples):  # a loop over time, vectorised over series: cheap enough
        out[i] = keep * out[i - 1] + fresh * shocks[i]
    return np.ascontiguousarray(out.T)


def lagged(pulses: Floats, step_h: float, peak_h: float, span_h: float) -> Floats:
    """The response to ``pulses`` through a kernel rising to 1 after ``peak_h`` hours.

    The kernel (t / peak) * exp(1 - t / peak) is how a catchment answers a storm: nothing at
    once, most a few hours later, a long tail. It is cut after ``span_h`` hours.
    """
    lags = np.arange(0.0, span_h, step_h)
    kernel = (lags / peak_h) * np.exp(1.0 - lags / peak_h)
    return np.convolve(pulses, kernel)[: len(pulses)]
