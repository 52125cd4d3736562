"""Training, evaluation and their commands on a small simulated city."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from firmware_sim.dataset import DatasetPlan, make_dataset
from firmware_sim.export import write_dataset
from training.baselines import rolling_mad, rolling_z
from training.calibration import isotonic_table
from training.cli import group
from training.data import Label, Readings, event_sizes, label_mask
from training.metrics import ALL, Alert, score
from training.train import event_weights


@pytest.fixture(scope="module")
def small_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("data") / "seed3"
    write_dataset(make_dataset(DatasetPlan(seed=3, sensors=12, days=2.0, interval_s=600)), out)
    return out


@pytest.fixture(scope="module")
def trained(small_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("model")
    result = CliRunner().invoke(group, ["train", "--data", str(small_data), "--out", str(out),
                                        "--epochs", "1"])  # fmt: skip
    assert result.exit_code == 0, result.output
    return out


def test_train_writes_int8_and_float_models_with_cards(trained: Path) -> None:
    card = json.loads((trained / "model.json").read_text())
    q = card["quantization"]
    assert q["weight_bytes_int8"] * 3 < q["weight_bytes_float"]
    assert card["data"]["folder"] == "seed3"
    assert card["training"]["event_balance"] == 1.0  # every event weighs the same by default
    assert (trained / "model.float.json").is_file()


def test_eval_prints_the_table_for_model_and_baselines(small_data: Path, trained: Path) -> None:
    result = CliRunner().invoke(
        group, ["eval", "--data", str(small_data), "--model", str(trained / "model.onnx")]
    )
    assert result.exit_code == 0, result.output
    assert "| all |" in result.output
    for name in ("model F1", "zscore F1", "median_mad F1"):
        assert name in result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["eval", "--data", "nowhere"], "nowhere: no such folder"),
        (["train", "--data", "nowhere", "--out", "m"], "nowhere: no such folder"),
        (["eval", "--data", ".", "--model", "none.onnx"], "no readings/*.csv"),
    ],
)
def test_errors_are_one_line(tmp_path: Path, args: list[str], message: str) -> None:
    fixed = [str(tmp_path / a) if a in ("nowhere", "m", ".", "none.onnx") else a for a in args]
    (tmp_path / "readings").mkdir()
    result = CliRunner().invoke(group, fixed)
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, result.output
    assert message in lines[0]


def test_event_matching() -> None:
    labels = (
        Label("a", "k", "m", 100, 200, "spike", "fault"),
        Label("a", "k", "*", 1000, 2000, "stuck", "fault"),
    )
    alerts = [Alert("a", "m", 150), Alert("a", "x", 1500), Alert("a", "m", 99_999),
              Alert("b", "m", 150)]  # fmt: skip
    figures = score(alerts, labels, sensor_days=2.0, grace_s=0)
    assert figures[ALL].detected == 2
    assert figures[ALL].true_alerts == 2
    assert figures[ALL].false_per_sensor_day == 1.0
    assert figures["spike"].recall == 1.0


def test_baselines_flag_a_spike_and_not_a_constant() -> None:
    value = 10 + np.random.default_rng(0).normal(0, 1, 200)
    value[150] = 40
    assert rolling_z(value, 48, 4)[150]
    assert rolling_mad(value, 48, 6)[150]
    flat = np.full(100, 5.0)
    assert not rolling_z(flat, 10, 3).any()
    assert not rolling_mad(flat, 10, 3).any()


def test_calibration_is_monotone() -> None:
    rng = np.random.default_rng(1)
    raw = rng.random(5000)
    target = rng.random(5000) < raw**2
    xs, ys = isotonic_table(raw, target)
    assert np.all(np.diff(xs) > 0)
    assert np.all(np.diff(ys) >= 0)
    assert abs(np.interp(0.5, xs, ys) - 0.25) < 0.1


def test_event_sizes_count_the_readings_each_label_covers() -> None:
    ts = np.arange(10) * 60.0
    readings = Readings(
        np.array(["a"] * 10 + ["b"] * 10, dtype=object), np.array(["k"] * 20, dtype=object),
        np.array(["m"] * 20, dtype=object), np.r_[ts, ts], np.zeros(20), 2, 1.0,
    )  # fmt: skip
    labels = (
        Label("a", "k", "m", 60, 240, "level_shift", "fault"),  # 4 readings
        Label("b", "k", "m", 300, 300, "spike", "fault"),  # 1 reading
        Label("b", "k", "*", 420, 480, "dropout", "fault"),  # the reading after it
    )
    sizes = event_sizes(readings, labels)
    assert sizes[:10].tolist() == [0, 4, 4, 4, 4, 0, 0, 0, 0, 0]  # sensor a
    assert sizes[10:].tolist() == [0, 0, 0, 0, 0, 1, 0, 0, 0, 1]  # sensor b
    assert label_mask(readings, labels).tolist() == (sizes > 0).tolist()


@pytest.mark.parametrize(
    ("sizes", "balance", "expected"),
    [
        ([1, 4, 4, 4, 4], 1.0, [2.5, 0.625, 0.625, 0.625, 0.625]),  # each event weighs 2.5
        ([1, 4, 4, 4, 4], 0.0, [1, 1, 1, 1, 1]),
        ([], 1.0, []),
    ],
)
def test_event_weights_give_every_event_the_same_share(
    sizes: list[float], balance: float, expected: list[float]
) -> None:
    weights = event_weights(np.array(sizes, dtype=np.float64), balance)
    np.testing.assert_allclose(weights, expected)
    assert weights.sum() == pytest.approx(len(sizes))  # anomalies keep their share of weight
