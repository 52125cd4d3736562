"""``citytwin model``: train, evaluate and rebuild the shipped anomaly model."""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path

import click

from edge.anomaly.errors import AnomalyError
from training.errors import TrainingError

_data_option = click.option(
    "--data",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="A folder written by `citytwin sim export` (readings/, labels.csv).",
)


def _fail(exc: Exception) -> click.ClickException:
    return click.ClickException(str(exc).splitlines()[0] if str(exc) else type(exc).__name__)


@click.group("model")
def group() -> None:
    """Train, evaluate and export anomaly models."""


@group.command()
@_data_option
@click.option(
    "--out",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder to write model.onnx (int8), model.float.onnx and their .json cards.",
)
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the training run.")
@click.option("--epochs", type=click.IntRange(1, 100), default=6, show_default=True)
@click.option(
    "--event-balance",
    type=click.FloatRange(0, 1),
    default=1.0,
    show_default=True,
    help="1: every labelled event weighs the same in training; 0: every anomalous reading does.",
)
def train(data: Path, out: Path, seed: int, epochs: int, event_balance: float) -> None:
    """Train a detector model on labelled data; export ONNX, quantise to int8, write cards."""
    from training import train as training
    from training.data import load

    began = time.perf_counter()
    try:
        config = training.TrainConfig(seed=seed, epochs=epochs, event_balance=event_balance)
        report = training.train(load(data), out, config)
    except (TrainingError, AnomalyError) as exc:
        raise _fail(exc) from exc
    except OSError as exc:
        raise click.ClickException(f"out: cannot write {out}: {exc.strerror}") from exc
    card = report.card
    click.echo(
        f"wrote {report.model} ({card['version']}) in {time.perf_counter() - began:.1f} s; "
        f"validation event F1 {card['metrics']['int8']['validation_event_f1']:.3f} int8, "
        f"{card['metrics']['float']['validation_event_f1']:.3f} float",
        err=True,
    )


@group.command("eval")
@_data_option
@click.option(
    "--model",
    type=click.Path(dir_okay=False, path_type=Path),
    help="ONNX model with its .json card beside it (default: the shipped model).",
)
@click.option("--json", "json_out", type=click.Path(dir_okay=False, path_type=Path),
              help="Also write every figure as JSON here.")  # fmt: skip
def evaluate(data: Path, model: Path | None, json_out: Path | None) -> None:
    """Event-level precision, recall, F1, delay and false alarms: model beside the baselines."""
    from training import report
    from training.data import load
    from training.evaluate import evaluate as run

    try:
        result = run(load(data), model)
    except (TrainingError, AnomalyError) as exc:
        raise _fail(exc) from exc
    click.echo(report.table(result))
    click.echo()
    click.echo(report.summary(result))
    if json_out is not None:
        json_out.write_text(json.dumps(report.as_json(result), indent=1) + "\n", encoding="utf-8")


@group.command("default")
@click.option(
    "--seed", type=int, default=1, show_default=True, help="Seed of the training city and run."
)
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder for default.onnx and default.json (default: the package's models folder).",
)
@click.option("--days", type=float, default=14.0, show_default=True)
@click.option("--sensors", type=int, default=200, show_default=True)
def default(seed: int, out: Path | None, days: float, sensors: int) -> None:
    """Rebuild the shipped default model from a seed: simulate, train, quantise, write the card."""
    from edge.anomaly.model import default_model
    from firmware_sim.dataset import DatasetPlan, make_dataset
    from firmware_sim.errors import SimError
    from firmware_sim.export import write_dataset
    from training import train as training
    from training.data import load

    target = out or default_model().parent
    began = time.perf_counter()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp) / f"sim-seed{seed}"
            write_dataset(make_dataset(DatasetPlan(seed=seed, sensors=sensors, days=days)), folder)
            config = training.TrainConfig(seed=seed)
            report = training.train(load(folder), target, config, name="default")
    except (TrainingError, AnomalyError, SimError) as exc:
        raise _fail(exc) from exc
    report.float_model.unlink()  # the package ships the int8 model only
    report.float_model.with_suffix(".json").unlink()
    click.echo(f"wrote {report.model} ({report.card['version']}) in "
               f"{time.perf_counter() - began:.1f} s", err=True)  # fmt: skip
