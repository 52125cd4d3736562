"""Injected anomalies: every kind happens, and labels cover exactly the samples changed."""

from __future__ import annotations

import itertools
from collections import Counter, defaultdict

import numpy as np
import pytest

from firmware_sim.anomalies import ALL_METRICS, Label, Rates
from firmware_sim.anomalies.events import overflow_starts, road_hops
from firmware_sim.anomalies.faults import TYPES
from firmware_sim.dataset import Dataset, DatasetPlan, make_dataset

EVENT_TYPES = ("traffic_incident", "pollution_episode", "sewage_overflow")


def label_masks(dataset: Dataset, kind: str) -> tuple[np.ndarray, np.ndarray]:
    """(labelled, excused) masks over (sensor, sample, metric) of one kind.

    ``excused``: samples of a stuck sensor whose clean value is the very value it sticks at.
    """
    block = dataset.clean[kind]
    labelled = np.zeros(block.values.shape, dtype=bool)
    excused = np.zeros(block.values.shape, dtype=bool)
    for label in dataset.labels:
        if label.kind != kind:
            continue
        row = block.sensors.index(label.sensor)
        metric = slice(None) if label.metric == ALL_METRICS else block.metrics.index(label.metric)
        window = slice(label.first, label.last + 1)
        labelled[row, window, metric] = True
        if label.type == "stuck":
            held = dataset.series[kind].values[row, label.first]
            excused[row, window] = block.values[row, window] == held
    return labelled, excused


def test_labelled_windows_cover_exactly_the_injected_samples(two_weeks: Dataset) -> None:
    for kind, clean in two_weeks.clean.items():
        changed = ~(two_weeks.series[kind].values == clean.values)  # NaN (dropped) counts
        labelled, excused = label_masks(two_weeks, kind)
        assert not (changed & ~labelled).any(), f"{kind}: a change without a label"
        assert not (labelled & ~changed & ~excused).any(), f"{kind}: a label without a change"


def test_every_type_of_anomaly_happens(two_weeks: Dataset) -> None:
    types = Counter(label.type for label in two_weeks.labels)
    assert set(types) == {*TYPES, *EVENT_TYPES}
    assert all(label.fault == (label.type in TYPES) for label in two_weeks.labels)
    assert all(bool(label.event) != label.fault for label in two_weeks.labels)


def test_faults_of_one_sensor_never_overlap(two_weeks: Dataset) -> None:
    windows: dict[str, list[Label]] = defaultdict(list)
    for label in two_weeks.labels:
        if label.fault:
            windows[label.sensor].append(label)
    for mine in windows.values():
        mine.sort(key=lambda lab: lab.first)
        assert all(a.last < b.first for a, b in itertools.pairwise(mine))


def test_an_incident_spreads_to_neighbouring_roads_later(two_weeks: Dataset) -> None:
    placed = {p.sensor.id: p for p in two_weeks.city.sensors_of("traffic_flow")}
    incidents: dict[str, list[Label]] = defaultdict(list)
    for label in two_weeks.labels:
        if label.type == "traffic_incident" and label.metric == "averageVehicleSpeed":
            incidents[label.event].append(label)
    spread = 0
    for labels in incidents.values():
        first = min(labels, key=lambda lab: lab.first)
        hops = road_hops(two_weeks.context, placed[first.sensor].observes, 2)
        for label in labels:
            hop = hops[placed[label.sensor].observes]
            assert label.first == first.first + hop * 2  # ten minutes a hop at 5-minute steps
            spread += hop > 0
    assert spread > 0, "seed 7 has an incident that reaches a neighbouring road"


def test_an_incident_slows_traffic_down(two_weeks: Dataset) -> None:
    block = two_weeks.series["traffic_flow"]
    speed = block.metrics.index("averageVehicleSpeed")
    for label in two_weeks.labels:
        if label.type == "traffic_incident" and label.metric == "averageVehicleSpeed":
            row = block.sensors.index(label.sensor)
            window = slice(label.first, label.last + 1)
            during = block.values[row, window, speed]
            before = two_weeks.clean["traffic_flow"].values[row, window, speed]
            if not np.isnan(during).any():
                assert during.mean() < before.mean()


def test_sewers_overflow_only_after_heavy_rain(two_weeks: Dataset) -> None:
    overflows = [lab for lab in two_weeks.labels if lab.type == "sewage_overflow"]
    assert overflows
    rain = two_weeks.context.weather.rain
    starts = overflow_starts(two_weeks.context, Rates().overflow_mm)
    assert {lab.first for lab in overflows} == set(starts)
    for start in starts:  # 6-hour rain before the start passed the threshold
        assert rain[max(0, start - 12 * 8) : start].sum() / 12 > Rates().overflow_mm
    outfalls = {b.id for b in two_weeks.city.layout.beaches if b.outfall}
    placed = {p.sensor.id: p for p in two_weeks.city.sensors_of("water_quality")}
    assert all(placed[lab.sensor].observes in outfalls for lab in overflows)


def test_a_pollution_episode_covers_one_district(two_weeks: Dataset) -> None:
    placed = {p.sensor.id: p for p in two_weeks.city.sensors_of("air_quality")}
    episodes: dict[str, set[str]] = defaultdict(set)
    for label in two_weeks.labels:
        if label.type == "pollution_episode":
            episodes[label.event].add(label.sensor)
    assert episodes
    for sensors in episodes.values():
        [district] = {placed[s].district for s in sensors}
        assert sensors == {s for s, p in placed.items() if p.district == district}


def test_zero_rates_inject_nothing() -> None:
    rates = Rates(faults_per_sensor_day=0, incidents_per_day=0, episodes_per_day=0,
                  overflow_mm=1e9)  # fmt: skip
    dataset = make_dataset(DatasetPlan(seed=7, sensors=40, days=2, rates=rates))
    assert dataset.labels == ()
    for kind, block in dataset.series.items():
        assert np.array_equal(block.values, dataset.clean[kind].values)


@pytest.mark.parametrize("rate", [0.05, 0.5])
def test_the_fault_rate_sets_how_many_faults(rate: float) -> None:
    rates = Rates(faults_per_sensor_day=rate, incidents_per_day=0, episodes_per_day=0)
    dataset = make_dataset(DatasetPlan(seed=2, sensors=100, days=10, rates=rates))
    faults = sum(label.fault and label.metric != "" for label in dataset.labels)
    assert 0.6 * rate * 1000 < faults <= 1.1 * rate * 1000  # overlapping ones are dropped
