"""Drills: one visible spike every few wall seconds, labelled, inside the possible range."""

from __future__ import annotations

from pathlib import Path

from firmware_sim.anomalies.labels import scale
from firmware_sim.city import generate_city
from firmware_sim.drill import SIZE, Drills
from firmware_sim.fleet import make_fleet
from firmware_sim.live import NO_ANOMALIES, LiveWorld
from firmware_sim.runner import RunPlan, run_fleet
from firmware_sim.signals import kind_model
from firmware_sim.transports.mqtt import MqttLink, MqttOptions
from firmware_sim.truth import TruthLog, write_labels
from shared import catalogue
from tests.conftest import Mosquitto
from tests.sim.conftest import Recorder, wire_readings
from tests.sim.test_truth import read_labels

START = 1_750_000_000.0


def test_drills_are_chosen_from_the_seed_and_never_on_a_direction() -> None:
    fleet = make_fleet(3, 40, "d")
    drills, again = Drills(fleet, 10.0, START, 3), Drills(fleet, 10.0, START, 3)
    chosen = [drills.drill(n) for n in range(1, 200)]
    assert chosen == [again.drill(n) for n in range(1, 200)]
    assert len({(d.sensor, d.metric) for d in chosen}) > 50
    assert [d.due for d in chosen[:3]] == [START + 10.0, START + 20.0, START + 30.0]
    for d in chosen:
        model = kind_model(d.kind)
        assert model.wrap[model.names.index(d.metric)] is None
        assert abs(d.push) == SIZE * scale(d.kind, model.names.index(d.metric))


def test_a_drill_spikes_one_reading_of_its_sensor_within_the_possible_range() -> None:
    fleet = make_fleet(5, 30, "d")
    drills = Drills(fleet, 10.0, START, 5)
    for number in range(1, 60):
        drill = drills.drill(number)
        metrics = dict.fromkeys(kind_model(drill.kind).names, 0.5)
        ts = drill.due + 0.5
        before, none = drills.apply(drill.sensor, drill.due - 0.5, metrics)
        spiked, applied = drills.apply(drill.sensor, ts, metrics)
        repeated, twice = drills.apply(drill.sensor, ts + 1.0, metrics)
        assert none is None  # before it is due (an earlier drill of the sensor is sent already)
        assert applied == drill
        assert twice is None  # one reading per drill
        assert repeated == metrics
        changed = {m for m in metrics if spiked[m] != metrics[m]}
        assert changed == {drill.metric}
        spec = catalogue.kind(drill.kind)
        assert spec is not None
        bounds = spec.metric(drill.metric)
        assert bounds is not None
        assert bounds.accepts(spiked[drill.metric])
        assert before == metrics


async def test_a_live_run_with_drills_sends_and_labels_its_spikes(
    mosquitto: Mosquitto, recorder: Recorder, tmp_path: Path
) -> None:
    city = generate_city(2, 6, "drill")
    world, clean = LiveWorld(city, NO_ANOMALIES), LiveWorld(city, NO_ANOMALIES)
    options = MqttOptions("127.0.0.1", mosquitto.port, qos=1)
    truth = TruthLog()
    # A reading every 0.05 s and a drill every 0.5 s: about six drills in 3.2 s.
    plan = RunPlan(0.05, 1.0, 3.2, start=START, drill_s=0.5, seed=2)
    report = await run_fleet(world, lambda s: MqttLink(s.id, options), plan, truth=truth)
    recorder.wait_for(lambda rec: sum(map(len, wire_readings(rec).values())) >= report.sent)
    write_labels(truth, tmp_path / "labels.csv")
    labels = read_labels(tmp_path / "labels.csv")
    assert 4 <= len(labels) <= 7
    assert {(lab["type"], lab["cause"]) for lab in labels} == {("spike", "fault")}
    sent = wire_readings(recorder)
    for label in labels:
        assert label["start"] == label["end"]  # one reading each
        ts, metric = float(label["start"]), label["metric"]
        reading = next(r for r in sent[label["sensor"]] if r.ts == ts)
        plain = clean.metrics(label["sensor"], ts)
        assert plain is not None
        index = kind_model(label["kind"]).names.index(metric)
        push = abs(reading.metrics[metric] - plain[metric])
        spec = catalogue.kind(label["kind"])
        bounds = None if spec is None else spec.metric(metric)
        assert bounds is not None
        # The full push, or as far as the possible range allows.
        at_bound = reading.metrics[metric] in (bounds.low, bounds.high)
        assert push >= 0.95 * SIZE * scale(label["kind"], index) or at_bound
    # Nothing else was changed: every other published value is the clean world's.
    spikes = {(lab["sensor"], float(lab["start"])) for lab in labels}
    for sensor, mine in sent.items():
        for reading in mine:
            if (sensor, reading.ts) not in spikes:
                assert reading.metrics == clean.metrics(sensor, reading.ts)
