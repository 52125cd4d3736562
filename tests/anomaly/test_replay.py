"""Offline replay through the edge detector, as a library call and as a command."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from edge.anomaly.alerts import Alerter
from edge.anomaly.cli import replay as replay_command
from edge.anomaly.detector import Detector
from edge.anomaly.errors import ReplayError
from edge.anomaly.replay import read_series, replay


def _write(path: Path, ts: np.ndarray, value: np.ndarray) -> Path:
    rows = ["timestamp,value", *(f"{t:.0f},{float(v)!r}" for t, v in zip(ts, value, strict=True))]
    path.write_text("\n".join(rows) + "\n")
    return path


def _scores(path: Path) -> list[float]:
    with path.open() as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == ["timestamp", "value", "anomaly_score"]
    return [float(r["anomaly_score"]) for r in rows]


def _noisy(n: int, seed: int = 1) -> np.ndarray:
    return 10 + np.random.default_rng(seed).normal(0, 1, n)


@pytest.mark.parametrize(
    ("name", "ts", "value"),
    [
        ("gap", np.r_[np.arange(300) * 60.0, 86400 + np.arange(300) * 60.0], _noisy(600)),
        ("constant", np.arange(500) * 10.0, np.full(500, 3.25)),
        ("huge", np.arange(500) * 3600.0, _noisy(500) * 1e120),
        ("irregular", np.cumsum(np.random.default_rng(2).exponential(90, 400)), _noisy(400)),
    ],
)
def test_replay_writes_one_score_in_range_per_row(
    tmp_path: Path, name: str, ts: np.ndarray, value: np.ndarray
) -> None:
    out = tmp_path / "out.csv"
    report = replay(_write(tmp_path / f"{name}.csv", ts, value), out)
    scores = _scores(out)
    assert report.rows == len(scores) == len(ts)
    assert all(0 <= s <= 1 for s in scores)
    if name == "constant":
        assert max(scores) < 0.2
    if name == "gap":
        assert scores[300] == max(scores)  # the first reading after a day of silence


def test_replay_scores_equal_the_streaming_detector_one_reading_at_a_time(tmp_path: Path) -> None:
    # One reading per call is the per-reading definition (no scan spans two readings); replay
    # scans the whole series at once, so this pins the fast path to the agent's semantics.
    ts = np.r_[np.arange(700) * 60.0, 3 * 86400 + np.arange(500) * 60.0]
    value = _noisy(1200) + 5 * np.sin(ts / 86400 * 2 * np.pi)
    value[[100, 900]] = np.nan
    value[400:460] = value[400]  # stuck
    value[1000] += 25
    out = tmp_path / "out.csv"
    replay(_write(tmp_path / "in.csv", ts, value), out)
    with out.open() as f:
        replayed = np.array([float(r["anomaly_score"]) for r in csv.DictReader(f)])
    streaming = Detector.load()
    one_by_one = np.concatenate(
        [streaming.score(["s"], ["m"], ts[i : i + 1], value[i : i + 1]) for i in range(len(ts))]
    )
    assert replayed.max() > 0.8  # the series has something to find
    np.testing.assert_allclose(replayed, one_by_one, atol=1e-4 / 2 + 1e-6)  # 4 decimals written
    whole = Detector.load().score(["s"] * len(ts), ["m"] * len(ts), ts, value)
    np.testing.assert_allclose(whole, one_by_one, atol=1e-6)


def test_iso_times_and_empty_values(tmp_path: Path) -> None:
    src = tmp_path / "in.csv"
    src.write_text("timestamp,value\n2025-06-02T00:00:00,1.5\n2025-06-02T00:05:00Z,\n")
    report = replay(src, tmp_path / "out.csv")
    assert (report.rows, report.missing) == (2, 1)
    assert _scores(tmp_path / "out.csv")[1] == 0


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("time,value\n1,2\n", "line 1: the header must name"),
        ("timestamp,value\n1,abc\n", "line 2: could not convert"),
        ("timestamp,value\nyesterday,1\n", "line 2: Invalid isoformat"),
        ("timestamp,value\n1\n", "line 2: expected 2 columns"),
    ],
)
def test_bad_input_names_the_line(text: str, message: str) -> None:
    with pytest.raises(ReplayError, match=message):
        read_series(text, "in.csv")


def test_command_scores_a_file(tmp_path: Path) -> None:
    src = _write(tmp_path / "in.csv", np.arange(200) * 60.0, _noisy(200))
    result = CliRunner().invoke(replay_command, [str(src), "--out", str(tmp_path / "o.csv")])
    assert result.exit_code == 0, result.output
    assert len(_scores(tmp_path / "o.csv")) == 200


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["missing.csv", "--out", "o.csv"], "missing.csv: no such file"),
        (["bad.csv", "--out", "o.csv"], "line 1: the header must name"),
        (["good.csv", "--out", "o.csv", "--model", "nope.onnx"], "nope.onnx: no such model"),
    ],
)
def test_command_errors_are_one_line(tmp_path: Path, args: list[str], message: str) -> None:
    (tmp_path / "bad.csv").write_text("a,b\n1,2\n")
    (tmp_path / "good.csv").write_text("timestamp,value\n1,2\n")
    paths = [a if a.startswith("--") else str(tmp_path / a) for a in args]
    result = CliRunner().invoke(replay_command, paths)
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, result.output
    assert message in lines[0]


def _rounded_slow(decimals: int, base: float, swing: float) -> tuple[np.ndarray, np.ndarray]:
    """Two hours at one reading a second of a signal with a one-day period, rounded."""
    ts = 1_750_000_000 + np.arange(7200.0)
    return ts, np.round(base + swing * np.sin(ts / 86400 * 2 * np.pi), decimals)


SLOW_ROUNDED = pytest.mark.parametrize(
    ("decimals", "base", "swing"),
    [(3, 0.8, 0.03), (2, 12.5, 0.3), (0, 430.0, 20.0)],  # humidity, temperature, vehicle counts
)
SPIKES = np.array([1500, 3700, 5900])


def _replayed(tmp_path: Path, value: np.ndarray, ts: np.ndarray) -> np.ndarray:
    out = tmp_path / "out.csv"
    replay(_write(tmp_path / "in.csv", ts, value), out)
    return np.array(_scores(out))


@SLOW_ROUNDED
def test_rounding_steps_of_a_slow_signal_stay_quiet(
    tmp_path: Path, decimals: int, base: float, swing: float
) -> None:
    ts, value = _rounded_slow(decimals, base, swing)
    steps = np.abs(np.diff(value))
    assert np.count_nonzero(steps) >= 4  # the signal does move, one resolution step at a time
    assert steps.max() <= 10.0**-decimals * 1.01
    scores = _replayed(tmp_path, value, ts)
    assert scores.max() < Detector.load().model.card.policy.off


@SLOW_ROUNDED
def test_spikes_on_a_slow_rounded_signal_raise_one_alert_each(
    decimals: int, base: float, swing: float
) -> None:
    ts, value = _rounded_slow(decimals, base, swing)
    value[SPIKES] += 10 * swing * np.array([1, -1, 1])  # ten times its swing, both ways
    value = np.round(value, decimals)
    detector = Detector.load()
    scored = detector.score_detail(["s"] * len(ts), ["m"] * len(ts), ts, value)
    assert scored.score[SPIKES].min() >= detector.model.card.policy.on
    # The readings just after a spike may score high while its features settle; the alert
    # raised on the spike is still open then, so one spike is one alert.
    alerts = Alerter(detector.model.card.policy).update(
        ["s"] * len(ts), ["k"] * len(ts), ["m"] * len(ts), ts, value, scored.score
    )
    assert [a["ts"] for a in alerts] == ts[SPIKES].tolist()


def test_one_resolution_step_has_an_expected_range_at_least_that_wide() -> None:
    # A new stream that repeats one value and then moves by its resolution, as a humidity
    # sensor at three decimals does: the move is not an anomaly.
    value = np.r_[np.full(60, 0.796), 0.795, 0.795]
    ts = 1_750_000_000 + np.arange(len(value), dtype=float)
    detector = Detector.load()
    scored = detector.score_detail(["rh"] * len(ts), ["relativeHumidity"] * len(ts), ts, value)
    assert scored.score.max() < detector.model.card.policy.off
    assert scored.low[60] <= 0.795 - 0.001
    assert scored.high[60] >= 0.796 + 0.001
