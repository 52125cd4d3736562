"""Labels of a live run: written for exactly the anomalous readings that reached the broker."""

from __future__ import annotations

import csv
import itertools
import math
from dataclasses import dataclass
from pathlib import Path

import pytest

from firmware_sim.anomalies import ALL_METRICS, Label, Rates
from firmware_sim.city import generate_city
from firmware_sim.export import LABEL_COLUMNS
from firmware_sim.live import BLOCK_S, GRID_S, NO_ANOMALIES, LiveWorld, touches
from firmware_sim.runner import RunPlan, run_fleet
from firmware_sim.transports.mqtt import MqttLink, MqttOptions
from firmware_sim.truth import TruthLog, write_labels
from tests.conftest import Mosquitto
from tests.sim.conftest import Recorder, Sent, wire_readings

SENSORS = 8
START = math.ceil(1_750_000_000 / GRID_S) * GRID_S


@dataclass(frozen=True, slots=True)
class Layout:
    """A live run of the test: a city, and how far simulated time moves at each tick."""

    seed: int  # with start_h, chosen for the sorts of anomaly the run meets
    steps: int  # grid steps a tick; sensor i of n is staggered by i / n of a tick
    interval: float
    duration: float
    start_h: int = 0  # simulated hours after START

    @property
    def tick(self) -> float:
        return self.steps * GRID_S

    @property
    def start(self) -> float:
        return START + self.start_h * 3600.0

    def plan(self) -> RunPlan:
        return RunPlan(self.interval, self.tick / self.interval, self.duration, start=self.start)


LAYOUTS = {
    # A tick of SENSORS steps: every reading falls on a grid sample. Seed 1 has an incident.
    "on_the_grid": Layout(1, SENSORS, 0.05, 3.0),
    # A tick of one step: readings fall between samples and every sample is read, so both
    # edges of a dropout show: seed 4 has two within the run, a stuck sensor, out-of-range.
    "between_samples": Layout(4, 1, 0.05, 5.0, start_h=20),
}


def read_labels(path: Path) -> list[dict[str, str]]:
    """The rows of a labels file, after checking its header is sim export's."""
    with path.open(newline="", encoding="utf-8") as file:
        reader = csv.DictReader(file)
        assert tuple(reader.fieldnames or ()) == LABEL_COLUMNS
        return list(reader)


def injected(world: LiveWorld, clean: LiveWorld, sensor: str, kind: str, ts: float) -> set[str]:
    """The metrics the world changed (before rounding) at the grid samples around ``ts``."""
    index = math.floor(ts / BLOCK_S)
    series, plain = world.block(index).series[kind], clean.block(index).series[kind]
    row = series.sensors.index(sensor)
    position = (ts - index * BLOCK_S) / GRID_S
    first = int(position)
    samples = slice(first, first + 2) if position > first else slice(first, first + 1)
    differs = (series.values[row, samples] != plain.values[row, samples]).any(axis=0)
    return {name for name, changed in zip(series.metrics, differs, strict=True) if changed}


@pytest.mark.parametrize("layout", LAYOUTS.values(), ids=LAYOUTS.keys())
async def test_live_labels_cover_exactly_the_anomalies_published(
    mosquitto: Mosquitto, recorder: Recorder, tmp_path: Path, layout: Layout
) -> None:
    city = generate_city(layout.seed, SENSORS, "truth")
    world = LiveWorld(city, Rates(faults_per_sensor_day=3.0))
    clean = LiveWorld(city, NO_ANOMALIES)
    options = MqttOptions("127.0.0.1", mosquitto.port, qos=1)
    truth = TruthLog()
    report = await run_fleet(world, lambda s: MqttLink(s.id, options), layout.plan(), truth=truth)
    recorder.wait_for(lambda rec: sum(map(len, wire_readings(rec).values())) >= report.sent)
    path = tmp_path / "labels.csv"
    assert write_labels(truth, path) == len(truth)
    labels = read_labels(path)
    sent = wire_readings(recorder)
    kinds = {p.sensor.id: p.sensor.kind for p in city.sensors}

    def covering(sensor: str, metric: str, ts: float) -> list[dict[str, str]]:
        return [lab for lab in labels if lab["sensor"] == sensor
                and lab["metric"] in (metric, ALL_METRICS)
                and float(lab["start"]) <= ts <= float(lab["end"])]  # fmt: skip

    # Every published value that differs from the clean world lies in a label of its metric.
    for sensor, mine in sent.items():
        for reading in mine:
            plain = clean.metrics(sensor, reading.ts)
            assert plain is not None
            for metric, value in reading.metrics.items():
                if value != plain[metric]:
                    assert covering(sensor, metric, reading.ts), (sensor, metric, reading.ts)

    # Every published reading inside a label was injected there, and a label starts and ends
    # on published readings; a stuck value may equal what the sensor would have read.
    for label in (lab for lab in labels if lab["type"] != "dropout"):
        sensor, kind = label["sensor"], kinds[label["sensor"]]
        inside = [r for r in sent[sensor] if float(label["start"]) <= r.ts <= float(label["end"])]
        assert [inside[0].ts, inside[-1].ts] == [float(label["start"]), float(label["end"])]
        for reading in inside:
            changed = injected(world, clean, sensor, kind, reading.ts)
            wanted = changed if label["metric"] == ALL_METRICS else {label["metric"]} & changed
            assert wanted or label["type"] == "stuck", (label, reading.ts)

    # A dropout label holds no reading, and the dropouts in a gap of the numbering run from the
    # first reading missing to the last (known when the run kept up and skipped no tick).
    dropouts = [lab for lab in labels if lab["type"] == "dropout"]
    for label in dropouts:
        start, end = float(label["start"]), float(label["end"])
        assert not [r for r in sent[label["sensor"]] if start <= r.ts <= end]
    tick = layout.tick
    exact = 0
    for index, sensor in enumerate(kinds):
        # A reading that would have come one tick before the first: a run may start in a dropout.
        origin = Sent(-1, layout.start + (index / SENSORS - 1) * tick, {})
        for before, after in itertools.pairwise([origin, *sent[sensor]]):
            if after.seq - before.seq == 1:
                continue
            gap = [lab for lab in dropouts if _within(lab, sensor, before.ts, after.ts)]
            assert gap, (sensor, before, after)
            if after.ts - before.ts == (after.seq - before.seq) * tick:
                exact += 1
                assert min(float(lab["start"]) for lab in gap) == before.ts + tick
                assert max(float(lab["end"]) for lab in gap) == after.ts - tick
    assert exact > 0

    types = {lab["type"] for lab in labels}
    assert len(labels) >= 8
    assert "dropout" in types
    assert len(types) >= 3, types
    assert all(lab["cause"] == "fault" or lab["event"] for lab in labels)


@pytest.mark.parametrize(
    ("fraction", "expected"),
    [
        (0.0, {"spike": False, "dropout": True, "wind": False}),
        (0.3, {"spike": True, "dropout": True, "wind": False}),
        (0.7, {"spike": True, "dropout": True, "wind": True}),
    ],
)
def test_a_label_touches_the_readings_its_samples_weigh_in(
    fraction: float, expected: dict[str, bool]
) -> None:
    # Samples 10 and 11 around the reading; each label changes sample 11 alone.
    labels = {
        "spike": Label("s", "noise", "LAeq", 11, 11, "spike", True),
        "dropout": Label("s", "noise", ALL_METRICS, 11, 11, "dropout", True),
        "wind": Label("w", "weather", "windDirection", 11, 11, "spike", True),
    }
    assert {name: touches(lab, 10, fraction) for name, lab in labels.items()} == expected


def test_labels_are_not_written_for_readings_lost_on_the_way() -> None:
    log = TruthLog()
    spike = Label("s-1", "noise", "LAeq", 3, 5, "spike", True)
    dropout = Label("s-1", "noise", ALL_METRICS, 7, 8, "dropout", True)
    log.sent([(0, spike)], 100.0)
    log.sent([(0, spike)], 160.5)
    log.dropped([(0, dropout), (0, spike)], 200.0)  # a missing reading is not a spike's
    assert log.rows() == [
        ("s-1", "noise", "LAeq", "100", "160.5", "spike", "fault", ""),
        ("s-1", "noise", "*", "200", "200", "dropout", "fault", ""),
    ]
    assert len(log) == 2


def _within(label: dict[str, str], sensor: str, after: float, before: float) -> bool:
    """Whether ``label`` is ``sensor``'s and lies strictly between two times."""
    start, end = float(label["start"]), float(label["end"])
    return label["sensor"] == sensor and after < start <= end < before
