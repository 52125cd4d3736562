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
from training.data import Label
from training.metrics import ALL, Alert, score


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
