"""History over real HTTP: windows merged exactly, late summaries folded in, gaps never zeros."""

from __future__ import annotations

import random
import sqlite3
from contextlib import closing
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlite_utils import Database

from cloud.history import HistoryQuery, steps
from cloud.store.schema import migrate, migrations
from shared import stats
from tests.support import batches as b
from tests.support.cloud import CloudServer, ingest, query

AQ1 = "urn:ngsi-ld:AirQualityObserved:aq-0001"


def summary_of(seq: int, values: list[float], start: float, **fields: Any) -> Any:
    """A pm25 summary of ``values`` in the minute window starting at ``start``."""
    s = stats.of(values)
    return b.summary(
        seq, start=start, count=s.count, sum=s.total, min=s.low, max=s.high, m2=s.m2,
        first_ts=start, last_ts=start + 50, last_value=values[-1], **fields,
    )  # fmt: skip


def history(client: httpx.Client, **params: Any) -> dict[str, Any]:
    query = {"metric": "pm25", "start": b.T0, "end": b.T0 + 900, "step": 300} | params
    response = client.get(f"/api/v1/entities/{AQ1}/history", params=query)
    assert response.status_code == 200, response.text
    found: dict[str, Any] = response.json()
    return found


def test_windows_of_a_step_merge_exactly(client: httpx.Client) -> None:
    rng = random.Random(4)
    minutes = [[rng.uniform(0, 100) for _ in range(rng.randint(1, 9))] for _ in range(5)]
    ingest(client, b.body([summary_of(i, v, b.T0 + 60 * i) for i, v in enumerate(minutes)]))

    point = history(client)["points"][0]

    every = stats.of([x for minute in minutes for x in minute])
    assert point["count"] == every.count
    assert (point["min"], point["max"]) == (every.low, every.high)
    assert point["mean"] == pytest.approx(every.mean, rel=1e-12)
    assert point["variance"] == pytest.approx(every.variance, rel=1e-9)
    assert point["gap"] is False


def test_late_summaries_for_one_window_are_merged(
    cloud_server: CloudServer, client: httpx.Client
) -> None:
    on_time, late, later = [12.0, 14.0, 10.0, 12.0, 12.0], [18.0], [7.0, 9.0]
    ingest(client, b.body([summary_of(1, on_time, b.T0)]))
    ingest(client, b.body([summary_of(3, later, b.T0, late=True)]))
    ingest(client, b.body([summary_of(2, late, b.T0, late=True)]))

    point = history(client, step=60, end=b.T0 + 60)["points"][0]

    every = stats.of(on_time + late + later)
    assert (point["count"], point["min"], point["max"]) == (8, 7.0, 18.0)
    assert point["mean"] == pytest.approx(every.mean)
    assert point["variance"] == pytest.approx(every.variance)
    windows = query(cloud_server.settings.database, "SELECT count(*), sum(parts) FROM windows")
    assert windows == [(1, 3)]


def test_the_example_of_the_protocol_merges_to_its_documented_result(
    cloud_server: CloudServer, client: httpx.Client
) -> None:
    # docs/protocol.md section 8.2: five values on time, then 18 late.
    ingest(client, b.body([summary_of(1, [12.0, 14.0, 10.0, 12.0, 12.0], b.T0)]))
    ingest(client, b.body([summary_of(2, [18.0], b.T0, late=True)]))

    rows = query(cloud_server.settings.database, "SELECT count, total, low, high, m2 FROM windows")

    assert rows == [(6, 78.0, 10.0, 18.0, 38.0)]


def test_a_step_without_data_is_a_gap_not_a_zero(client: httpx.Client) -> None:
    ingest(client, b.body([b.summary(1, start=b.T0)]))

    points = history(client)["points"]

    assert [p["gap"] for p in points] == [False, True, True]
    empty = points[1]
    assert empty["count"] == 0
    assert [empty[k] for k in ("mean", "min", "max", "variance", "sum")] == [None] * 5
    assert empty["gap_reasons"] == ["no_data"]


def test_a_gap_report_shows_as_a_gap_with_its_reason(client: httpx.Client) -> None:
    summaries = [b.summary(i, start=b.T0 + 60 * i) for i in range(15)]
    shed = b.gap(20, start=b.T0 + 300, end=b.T0 + 600, reason="shed")
    whole_gateway = b.gap(21, sensor=None, metric=None, start=b.T0 + 650, end=b.T0 + 660,
                          reason="dead_letter")  # fmt: skip
    ingest(client, b.body([*summaries, shed, whole_gateway]))

    points = history(client)["points"]

    assert [p["gap_reasons"] for p in points] == [[], ["shed"], ["dead_letter"]]
    assert [p["count"] for p in points] == [30, 30, 30]  # data around a gap still shows


def test_a_gap_of_another_metric_or_sensor_does_not_count(client: httpx.Client) -> None:
    ingest(client, b.body([b.summary(1), b.gap(2, metric="pm10"), b.gap(3, sensor="aq-9")]))

    assert history(client)["points"][0]["gap"] is False


def test_history_has_the_unit_and_the_query(client: httpx.Client) -> None:
    ingest(client, b.body([b.summary(1)]))

    found = history(client)

    assert (found["entity"], found["metric"], found["unit"]) == (AQ1, "pm25", "ug/m3")
    assert (found["start"], found["end"], found["step"]) == (b.T0, b.T0 + 900, 300)
    assert [p["start"] for p in found["points"]] == [b.T0, b.T0 + 300, b.T0 + 600]


@pytest.mark.parametrize(
    ("params", "status", "detail"),
    [
        ({"start": b.T0 + 10, "end": b.T0}, 422, "must be before end"),
        ({"start": 0, "end": b.T0, "step": 60}, 422, "at most 10000"),
        ({"step": 0}, 422, "greater than or equal to 1"),
    ],
)
def test_bad_ranges_are_refused(
    client: httpx.Client, params: dict[str, Any], status: int, detail: str
) -> None:
    ingest(client, b.body([b.summary(1)]))
    query = {"metric": "pm25", "start": b.T0, "end": b.T0 + 900} | params

    response = client.get(f"/api/v1/entities/{AQ1}/history", params=query)

    assert response.status_code == status
    assert detail in str(response.json()["detail"])


def test_history_of_an_unknown_entity_is_404(client: httpx.Client) -> None:
    response = client.get("/api/v1/entities/urn:x:y/history", params={"metric": "pm25"})

    assert response.status_code == 404


@given(
    st.lists(
        st.tuples(st.integers(0, 9), st.lists(st.floats(-1e3, 1e3), min_size=1, max_size=5)),
        min_size=1,
        max_size=30,
    )
)
def test_steps_merge_windows_in_any_order(parts: list[tuple[int, list[float]]]) -> None:
    query = HistoryQuery("e", "m", 0.0, 600.0, 300.0)
    rows = [
        (60.0 * minute, 60.0 * minute + 60, s.count, s.total, s.low, s.high, s.m2, 0)
        for minute, values in parts
        for s in [stats.of(values)]
    ]

    points = steps(query, rows, [])

    for point, half in zip(points, (range(5), range(5, 10)), strict=True):
        values = [v for minute, vs in parts if minute in half for v in vs]
        if not values:
            assert (point.stats, point.gaps) == (None, ("no_data",))
            continue
        assert point.stats is not None
        expected = stats.of(values)
        assert point.stats.count == expected.count
        assert point.stats.mean == pytest.approx(expected.mean, abs=1e-6)
        assert point.stats.m2 == pytest.approx(expected.m2, rel=1e-6, abs=1e-3)


@pytest.mark.sqlite_only("migrates a SQLite file of an older schema")
def test_raw_summaries_of_an_older_schema_are_folded_into_windows(tmp_path: Path) -> None:
    path = tmp_path / "c.db"
    with closing(sqlite3.connect(path)) as conn:
        db = Database(conn)
        migrations.apply(db, stop_before="m002_city_and_history")
        conn.execute(
            "INSERT INTO entities (id, sensor, kind, type, category, gateway, first_seen,"
            " updated_at) VALUES (?, 'aq-0001', 'air_quality', 'AirQualityObserved',"
            " 'goods_and_equipment', 'gw', 0, 0)",
            (AQ1,),
        )
        for seq, value in enumerate([1.0, 3.0]):
            conn.execute(
                "INSERT INTO summaries (gateway, seq, entity, sensor, kind, metric, window_start,"
                " window_end, count, total, low, high, m2, first_ts, last_ts, last_value,"
                " anomalies, late, received_at) VALUES ('gw', ?, ?, 'aq-0001', 'air_quality',"
                " 'pm25', 0, 60, 1, ?, ?, ?, 0, 1, 2, ?, 0, 0, 5)",
                (seq, AQ1, value, value, value, value),
            )
        conn.commit()

    migrate(path)

    with closing(sqlite3.connect(path)) as conn:
        row = conn.execute("SELECT count, total, low, high, m2, parts FROM windows").fetchone()
    assert row == (2, 4.0, 1.0, 3.0, 2.0, 2)
