"""``citytwin edge replay``: score a recorded series offline with the edge detector."""

from __future__ import annotations

import time
from pathlib import Path

import click

from edge.anomaly.errors import AnomalyError


@click.command("replay")
@click.argument("source", metavar="INPUT.csv", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--out",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="CSV to write: timestamp,value,anomaly_score, one row per input row.",
)
@click.option(
    "--model",
    type=click.Path(dir_okay=False, path_type=Path),
    help="ONNX model with its .json card beside it (default: the shipped model).",
)
def replay(source: Path, out: Path, model: Path | None) -> None:
    """Score a timestamp,value CSV causally, exactly as the gateway would.

    Timestamps are epoch seconds or ISO 8601; any sampling interval and any scale. An empty
    value is a missing reading: it scores 0 and does not change the detector's state.
    """
    from edge.anomaly.detector import Detector
    from edge.anomaly.replay import replay as run

    began = time.perf_counter()
    try:
        report = run(source, out, Detector.load(model))
    except AnomalyError as exc:
        raise click.ClickException(str(exc)) from exc
    except FileNotFoundError as exc:
        raise click.ClickException(f"{exc.filename}: no such file") from exc
    except OSError as exc:
        raise click.ClickException(f"{exc.filename}: {exc.strerror}") from exc
    click.echo(
        f"scored {report.rows} rows ({report.missing} missing) with model {report.model_version}"
        f" in {time.perf_counter() - began:.2f} s; max score {report.max_score:.3f}",
        err=True,
    )
