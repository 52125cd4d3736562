"""Writing a dataset to a folder: readings per kind, labels, sensors, weather, the city.

    DIR/readings/<kind>.csv   ts,sensor,seq,<metric>,...   one row per reading sent
    DIR/labels.csv            sensor,kind,metric,start,end,type,cause,event
    DIR/sensors.csv           sensor,kind,entity,lat,lon,district,observes,gateway
    DIR/city_weather.csv      ts,temperature,rain,wind,wind_direction,humidity,pressure
    DIR/city.geojson          the city as twin entities (``citytwin sim city``)
    DIR/manifest.json         the plan, the files, their row counts, the metrics' units

Times are whole UTC epoch seconds. Rows are in time order, then fleet order. Each metric is
written with the decimals the sensors send, so the same plan gives the same bytes.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Final

import numpy as np
import numpy.typing as npt

from firmware_sim.anomalies import Label
from firmware_sim.city import twin
from firmware_sim.dataset import Dataset, valid_rows
from firmware_sim.signals import kind_model
from firmware_sim.world.calendar import Floats
from shared.catalogue import KINDS

FORMAT: Final = "citytwin-dataset/1"
LABEL_COLUMNS: Final = ("sensor", "kind", "metric", "start", "end", "type", "cause", "event")


@dataclass(frozen=True, slots=True)
class ExportReport:
    """What was written: readings and labels counted, files by name."""

    readings: int
    labels: int
    files: tuple[str, ...]


def _formatted(values: Floats, decimals: int) -> list[str]:
    # + 0.0 turns the -0.0 that rounding can leave into 0.0.
    return [f"{v:.{decimals}f}" for v in (np.round(values, decimals) + 0.0).tolist()]


def _write_csv(path: Path, header: Sequence[str], columns: Sequence[Sequence[str]]) -> int:
    rows = [",".join(header), *map(",".join, zip(*columns, strict=True))]
    path.write_text("\n".join(rows) + "\n", encoding="utf-8", newline="")
    return len(rows) - 1


def write_readings(dataset: Dataset, folder: Path) -> dict[str, int]:
    """One CSV per kind of the dataset's readings; rows written, by kind."""
    folder.mkdir(parents=True, exist_ok=True)
    times = dataset.context.period.times().astype(np.int64)
    counts = {}
    for kind, block in dataset.series.items():
        sensors, samples, _ = block.values.shape
        by_time = block.values.transpose(1, 0, 2).reshape(samples * sensors, -1)
        sent = valid_rows(by_time)
        seq = np.tile(np.arange(samples), (sensors, 1)).T.reshape(-1)[sent]
        ts = np.repeat(times, sensors)[sent]
        names = np.tile(np.array(block.sensors, dtype=object), samples)[sent]
        model = kind_model(kind)
        metric_columns = [
            _formatted(by_time[sent, i], model.decimals[i]) for i in range(len(block.metrics))
        ]
        columns = [list(map(str, ts.tolist())), names.tolist(), list(map(str, seq.tolist()))]
        header = ("ts", "sensor", "seq", *block.metrics)
        counts[kind] = _write_csv(folder / f"{kind}.csv", header, [*columns, *metric_columns])
    return counts


def label_rows(dataset: Dataset) -> list[tuple[str, ...]]:
    """The labels as CSV rows, times in epoch seconds."""
    times = dataset.context.period.times().astype(np.int64)
    return [_label_row(label, times) for label in dataset.labels]


def _label_row(label: Label, times: npt.NDArray[np.int64]) -> tuple[str, ...]:
    cause = "fault" if label.fault else "event"
    start, end = str(times[label.first]), str(times[label.last])
    return (label.sensor, label.kind, label.metric, start, end, label.type, cause, label.event)


def _sensor_rows(dataset: Dataset) -> list[tuple[str, ...]]:
    urns = twin.local_urns(dataset.city)
    out: list[tuple[str, ...]] = []
    for placed in dataset.city.sensors:
        s = placed.sensor
        entity = twin.urn(KINDS[s.kind].sdm_type, s.id)
        out.append((s.id, s.kind, entity, f"{s.lat:.6f}", f"{s.lon:.6f}", placed.district,
                    urns[placed.observes], placed.gateway))  # fmt: skip
    return out


def _weather_columns(dataset: Dataset) -> list[list[str]]:
    w = dataset.context.weather
    times = dataset.context.period.times().astype(np.int64)
    quantities = (w.temperature, w.rain, w.wind, w.wind_direction, w.humidity, w.pressure)
    return [list(map(str, times.tolist()))] + [_formatted(q, 3) for q in quantities]


def _transposed(rows: Iterable[tuple[str, ...]], width: int) -> list[list[str]]:
    columns: list[list[str]] = [[] for _ in range(width)]
    for row in rows:
        for column, value in zip(columns, row, strict=True):
            column.append(value)
    return columns


def write_dataset(dataset: Dataset, out: Path) -> ExportReport:
    """Write every file of ``dataset`` under ``out`` (created if missing)."""
    out.mkdir(parents=True, exist_ok=True)
    counts = write_readings(dataset, out / "readings")
    labels = _write_csv(
        out / "labels.csv", LABEL_COLUMNS, _transposed(label_rows(dataset), len(LABEL_COLUMNS))
    )
    sensor_header = ("sensor", "kind", "entity", "lat", "lon", "district", "observes", "gateway")
    _write_csv(out / "sensors.csv", sensor_header, _transposed(_sensor_rows(dataset), 8))
    weather_header = ("ts", "temperature", "rain", "wind", "wind_direction", "humidity",
                      "pressure")  # fmt: skip
    _write_csv(out / "city_weather.csv", weather_header, _weather_columns(dataset))
    (out / "city.geojson").write_text(twin.dumps(dataset.city), encoding="utf-8")
    readings = sorted(f"readings/{kind}.csv" for kind in counts)
    files = (*readings, "labels.csv", "sensors.csv", "city_weather.csv", "city.geojson")
    _write_manifest(dataset, out, counts, labels, files)
    return ExportReport(sum(counts.values()), labels, files)


def _write_manifest(
    dataset: Dataset, out: Path, counts: dict[str, int], labels: int, files: tuple[str, ...]
) -> None:
    plan = dataset.plan
    units = {
        kind: {name: KINDS[kind].metrics[name].unit for name in block.metrics}
        for kind, block in dataset.series.items()
    }
    manifest = {
        "format": FORMAT,
        "plan": {**asdict(plan), "rates": asdict(plan.rates)},
        "samples_per_sensor": dataset.context.period.samples,
        "readings": counts,
        "labels": labels,
        "files": list(files),
        "units": units,
    }
    text = json.dumps(manifest, indent=1, sort_keys=True) + "\n"
    (out / "manifest.json").write_text(text, encoding="utf-8")
