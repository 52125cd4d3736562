"""The write plan: deduplication and the reductions that keep the hot path short."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from cloud.store import rows
from tests.support import batches as b

AQ1 = "urn:ngsi-ld:AirQualityObserved:aq-0001"


def test_fresh_drops_known_and_repeated_sequence_numbers() -> None:
    records = [b.summary(1), b.summary(2), b.summary(2, last_value=9.0), b.summary(3)]

    kept = rows.fresh(records, known={3})

    assert kept == [b.summary(1), b.summary(2)]


def test_one_entity_row_per_sensor() -> None:
    records = [b.summary(i, f"aq-{i % 3}") for i in range(30)]

    plan = rows.plan("gw", records, received_at=5.0)

    assert len(plan.summaries) == 30
    assert sorted(plan.entities) == [f"urn:ngsi-ld:AirQualityObserved:aq-{i}" for i in range(3)]
    assert plan.records[0] == ("gw", 0, "summary", 5.0)


def test_the_newest_heartbeat_by_sequence_wins_whatever_its_clock_says() -> None:
    # A gateway without a real-time clock can send a later heartbeat with an earlier time.
    plan = rows.plan("gw", [b.heartbeat(8, ts=2000.0), b.heartbeat(9, ts=1000.0)], 5.0)

    assert plan.heartbeat is not None
    assert plan.heartbeat.seq == 9


def test_gaps_and_alerts_become_rows() -> None:
    plan = rows.plan("gw", [b.gap(1), b.alert(2)], 5.0)

    assert plan.gaps == [("gw", 1, "aq-0001", "pm25", b.T0, b.T0 + 600, 60, "shed", 5.0)]
    assert len(plan.alerts) == 1
    assert plan.latest == {(AQ1, "pm25"): (480.0, b.T0 + 30)}


@given(st.lists(st.tuples(st.floats(0, 1e9), st.floats(-1e6, 1e6)), min_size=1, max_size=40))
def test_latest_is_the_newest_observation_of_the_batch(points: list[tuple[float, float]]) -> None:
    records = [
        b.summary(i, start=max(0.0, ts - 50), last_ts=ts, first_ts=ts, last_value=value)
        for i, (ts, value) in enumerate(points)
    ]

    plan = rows.plan("gw", records, 5.0)

    newest = max(ts for ts, _ in points)
    first_newest = next(value for ts, value in points if ts == newest)
    assert plan.latest == {(AQ1, "pm25"): (first_newest, newest)}
