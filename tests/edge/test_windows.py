"""Tumbling windows: placement by observation time, closing policy, late readings."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

import pytest

from edge.windows import Windows
from shared import stats
from shared.reading import Reading

_ids = iter(range(1, 10**9))


def add(
    windows: Windows, sensor: str, seq: int, ts: float, metrics: dict[str, float], now: float
) -> None:
    """Add a noise reading with the next stored-reading id."""
    reading = Reading(sensor, "noise", seq, ts, metrics)
    windows.add(reading, rid=next(_ids), now=now)


def test_readings_land_in_the_window_of_their_observation_time() -> None:
    windows = Windows(length=60, lateness=5)
    for seq, ts in enumerate([0.0, 30.0, 59.9, 60.0, 61.0]):
        add(windows, "s1", seq, ts, {"LAeq": float(seq)}, now=100.0)
    closed = {w.start: w for w in windows.close_all()}
    assert sorted(closed) == [0.0, 60.0]
    assert closed[0.0].stats.count == 3
    assert closed[60.0].stats.count == 2
    assert closed[0.0].first_ts == 0.0
    assert closed[0.0].last_ts == 59.9
    assert closed[0.0].last_value == 2.0


def test_window_closes_when_the_sensor_reports_past_its_end_plus_lateness() -> None:
    windows = Windows(length=60, lateness=5)
    add(windows, "s1", 0, 10.0, {"LAeq": 50.0}, now=10.0)
    add(windows, "s1", 1, 64.0, {"LAeq": 51.0}, now=64.0)
    assert windows.close_due(now=64.0) == []  # 64 < 60 + 5: still open for stragglers
    add(windows, "s1", 2, 65.0, {"LAeq": 52.0}, now=65.0)
    closed = windows.close_due(now=65.0)
    assert [(w.start, w.stats.count) for w in closed] == [(0.0, 1)]


def test_window_of_a_quiet_sensor_closes_by_gateway_time() -> None:
    windows = Windows(length=60, lateness=5)
    add(windows, "s1", 0, 10.0, {"LAeq": 50.0}, now=1000.0)
    assert windows.close_due(now=1064.0) == []
    assert len(windows.close_due(now=1065.0)) == 1


def test_reading_for_a_closed_window_opens_a_late_window() -> None:
    windows = Windows(length=60, lateness=5)
    add(windows, "s1", 0, 10.0, {"LAeq": 50.0}, now=10.0)
    add(windows, "s1", 2, 70.0, {"LAeq": 52.0}, now=70.0)
    [first] = windows.close_due(now=70.0)
    assert not first.late
    add(windows, "s1", 1, 20.0, {"LAeq": 51.0}, now=71.0)
    late = [w for w in windows.close_all() if w.start == 0.0]
    assert len(late) == 1
    assert late[0].late
    merged = stats.merge(first.stats, late[0].stats)
    assert merged.count == 2
    assert merged.mean == pytest.approx(50.5)


def test_expected_count_comes_from_the_sequence_numbers() -> None:
    windows = Windows(length=60, lateness=5)
    for seq in (10, 11, 13, 14):  # 12 went missing
        add(windows, "s1", seq, float(seq), {"LAeq": 50.0}, now=20.0)
    [window] = windows.close_all()
    assert window.stats.count == 4
    assert window.expected == 5


def test_window_statistics_are_exact() -> None:
    rng = random.Random(3)
    values = [rng.gauss(40, 7) for _ in range(500)]
    windows = Windows(length=1000, lateness=0)
    for seq, value in enumerate(values):
        add(windows, "s1", seq, float(seq), {"LAeq": value}, now=0.0)
    [window] = windows.close_all()
    mean = sum(values) / len(values)
    assert window.stats.mean == pytest.approx(mean)
    assert window.stats.variance == pytest.approx(
        sum((v - mean) ** 2 for v in values) / (len(values) - 1)
    )
    assert window.stats.low == min(values)
    assert window.stats.high == max(values)


def test_record_is_a_valid_uplink_summary() -> None:
    from shared.wire.uplink import record_from_dict

    windows = Windows(length=60, lateness=5)
    add(windows, "s1", 0, 1.0, {"LAeq": 50.0, "LAmax": 70.0}, now=1.0)
    for window in windows.close_all():
        record = record_from_dict({"seq": 1, **window.record()})
        assert record.type == "summary"
        assert not math.isnan(record.sum)


def test_oldest_open_id_tracks_what_replay_must_cover() -> None:
    windows = Windows(length=60, lateness=5)
    assert windows.oldest_open_id() is None
    windows.add(Reading("s1", "noise", 0, 10.0, {"LAeq": 1.0}), rid=100, now=10.0)
    windows.add(Reading("s2", "noise", 0, 70.0, {"LAeq": 1.0}), rid=101, now=70.0)
    windows.add(Reading("s1", "noise", 1, 20.0, {"LAeq": 1.0}), rid=102, now=70.0)
    assert windows.oldest_open_id() == 100
    windows.add(Reading("s1", "noise", 2, 66.0, {"LAeq": 1.0}), rid=103, now=70.0)
    [closed] = windows.close_due(now=70.0)
    assert closed.through_id == 102
    assert windows.oldest_open_id() == 101


@dataclass
class _Ref:
    values: list[float]
    first_ts: float
    last_ts: float
    last_value: float
    seq_lo: int
    seq_hi: int
    last_id: int
    restarted: bool = False


Row = tuple[str, str, int, float, float, int, float]


def _reference(rows: list[Row], length: float) -> dict[tuple[str, str, float], _Ref]:
    """One window per (sensor, metric, start), updated one value at a time, in arrival order."""
    out: dict[tuple[str, str, float], _Ref] = {}
    for sensor, metric, seq, ts, value, rid, _received in rows:
        key = (sensor, metric, math.floor(ts / length) * length)
        w = out.get(key)
        if w is None:
            out[key] = _Ref([value], ts, ts, value, seq, seq, rid)
            continue
        w.values.append(value)
        w.first_ts = min(w.first_ts, ts)
        if ts >= w.last_ts:
            w.last_ts, w.last_value = ts, value
        if seq < w.seq_lo - 1024:
            w.restarted = True
        w.seq_lo, w.seq_hi = min(w.seq_lo, seq), max(w.seq_hi, seq)
        w.last_id = max(w.last_id, rid)
    return out


@pytest.mark.parametrize("seed", range(12))
def test_batched_updates_equal_one_value_at_a_time(seed: int) -> None:
    """However a stream is cut into batches, every window ends as a one-by-one update leaves it:
    out-of-order times, ties, sequence restarts and several metrics per reading included."""
    from edge.columns import Columns

    rng = random.Random(seed)
    rows: list[Row] = []
    seq = {"a": 5000, "b": 0, "c": 70000}
    for rid in range(1, 400):
        sensor = rng.choice("abc")
        seq[sensor] = rng.randrange(0, 200) if rng.random() < 0.03 else seq[sensor] + 1
        ts = round(rng.uniform(0, 300), 0 if rng.random() < 0.3 else 3)  # ties happen
        metrics = rng.sample(["LAeq", "LAmax", "rssi"], rng.randint(1, 3))
        rows += [(sensor, m, seq[sensor], ts, rng.gauss(50, 9), rid, float(rid)) for m in metrics]
    expected = _reference(rows, 60.0)
    windows = Windows(length=60, lateness=5)
    i = 0
    while i < len(rows):
        cut = rng.choice([1, 2, 7, 50, 400])
        cols = Columns()
        for sensor, metric, s, ts, value, rid, received in rows[i : i + cut]:
            cols.add(Reading(sensor, "noise", s, ts, {metric: value}), rid, received)
        windows.add_columns(cols)
        i += cut
    closed = {(w.sensor, w.metric, w.start): w for w in windows.close_all()}
    assert closed.keys() == expected.keys()
    for key, w in closed.items():
        ref = expected[key]
        exact = stats.of(ref.values)
        assert w.stats.count == exact.count
        assert w.stats.mean == pytest.approx(exact.mean, rel=1e-12)
        assert w.stats.m2 == pytest.approx(exact.m2, rel=1e-9)
        assert (w.stats.low, w.stats.high) == (exact.low, exact.high)
        assert (w.first_ts, w.last_ts, w.last_value) == (ref.first_ts, ref.last_ts, ref.last_value)
        assert w.expected == (None if ref.restarted else ref.seq_hi - ref.seq_lo + 1)
        assert w.through_id == ref.last_id
    assert any(ref.restarted for ref in expected.values())  # the case is exercised


def test_a_flat_sensor_has_exactly_no_spread_however_it_is_batched() -> None:
    from edge.columns import Columns

    windows = Windows(length=60, lateness=5)
    for start in range(0, 30, 7):  # batches of 7, merged one after another
        cols = Columns()
        for seq in range(start, min(start + 7, 30)):
            cols.add(Reading("s1", "weather", seq, float(seq), {"pressure": 1019.7}), seq + 1, 0.0)
        windows.add_columns(cols)
    [window] = windows.close_all()
    assert window.stats.count == 30
    assert window.stats.mean == 1019.7
    assert window.stats.m2 == 0.0
