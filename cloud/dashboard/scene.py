"""A sample city with a day of data, to look at the dashboard without a running fleet.

The city comes from the simulator's city generator; the data is a day of window summaries per
sensor with a daily cycle, two silent hours (a gap) and an hour its gateway shed (a reported
gap), alerts that open incidents, and heartbeats from all but one gateway.
Everything is sent through the real ingest endpoint, as gateways would. Screenshots, the
dashboard's browser tests and its benchmark use it.
"""

from __future__ import annotations

import math
import random
from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import httpx

from cloud import city as city_file
from shared.catalogue import KINDS, Metric
from shared.wire.uplink import (
    INGEST_PATH,
    Alert,
    Batch,
    Gap,
    Heartbeat,
    Record,
    Summary,
    encode_batch,
)

BATCH_RECORDS = 1000
SILENT_HOURS = (6.0, 4.0)  # the silent sensor's gap: from 6 h ago to 4 h ago
SHED_HOURS = (10.0, 9.0)  # the shedding sensor's reported gap
BACKLOGGED: dict[str, float | int | str] = {
    "buffer_depth": 4_800, "oldest_unsent_age_s": 95.0, "shed_total": 120,
    "dead_letter_total": 3, "clock_offset_s": -1.7,
}  # fmt: skip


@dataclass(frozen=True, slots=True)
class Sensor:
    """A sensor of the city file: its entity, what it measures, whom it reports to."""

    id: str
    sensor: str
    kind: str
    gateway: str


def city_text(seed: int = 7, sensors: int = 40) -> str:
    """The simulator's city of ``seed`` with ``sensors`` sensors, as a city file's text."""
    # The simulator is another extra of the same distribution: imported only when used.
    from firmware_sim.city import generate_city
    from firmware_sim.city.twin import dumps

    return dumps(generate_city(seed, sensors))


def sensors_of(text: str) -> list[Sensor]:
    """The sensors a city file places, in file order."""
    return [
        Sensor(e.id, e.sensor, e.kind, e.gateway)
        for e in city_file.parse(text)
        if e.sensor is not None and e.kind is not None and e.gateway is not None
    ]


def _summary(
    seq: int, s: Sensor, metric: str, start: float, step: float, value: float, peak: float | None
) -> Summary:
    spread = abs(value) * 0.08 + 0.5
    high = value + spread if peak is None else max(peak, value + spread)
    return Summary(
        seq=seq, sensor=s.sensor, kind=s.kind, metric=metric, start=start, end=start + step,
        count=10, sum=value * 10, min=value - spread, max=high,
        m2=10 * (spread / 2) ** 2, first_ts=start, last_ts=start + step - 1, last_value=value,
        anomalies=0 if peak is None else 1, max_score=None if peak is None else 0.97,
    )  # fmt: skip


# Typical levels of the metrics the KPIs read, so the sample city's KPIs look like a city's.
TYPICAL: dict[str, float] = {
    "pm25": 12.0, "pm10": 22.0, "no2": 35.0, "o3": 60.0, "averageVehicleSpeed": 38.0,
    "intensity": 600.0, "LAeq": 58.0, "activePower": 120.0, "escherichiaColi": 90.0,
    "enterococci": 40.0,
}  # fmt: skip


def _level(metric: Metric, phase: float, t: float, rng: random.Random) -> float:
    # A daily cycle of +-30% around a typical level, plus noise: plausible, not physical.
    span = min(metric.high - metric.low, 1000.0)
    base = TYPICAL.get(metric.name, max(metric.low, 0.0) + span * 0.1)
    cycle = 0.3 * math.sin(2 * math.pi * t / 86_400 + phase)
    value = base * (1 + cycle + rng.gauss(0, 0.03))
    return min(max(value, metric.low), metric.high)


def records(
    sensors: Sequence[Sensor], now: float, *, hours: float = 24.0, step: float = 300.0
) -> dict[str, list[Record]]:
    """Per gateway, the records of the sample day ending at ``now`` (without sequence numbers).

    The first sensor has it all: an alert (and its anomalous window), two silent hours and an
    hour its gateway shed; two more sensors raise alerts of lower severity.
    """
    rng = random.Random(7)
    out: dict[str, list[Record]] = defaultdict(list)
    alerted = {0: "critical", 5: "warning", 9: "info"}
    alert_at = now - 90 * 60
    first = math.floor((now - hours * 3600) / step) * step
    for index, s in enumerate(sensors):
        metrics = list(KINDS[s.kind].metrics.values())[:2]
        phase = rng.uniform(0, 2 * math.pi)
        for start in _steps(first, now, step):
            if index == 0 and now - SILENT_HOURS[0] * 3600 <= start < now - SILENT_HOURS[1] * 3600:
                continue
            for n, m in enumerate(metrics):
                value = _level(m, phase, start, rng)
                anomalous = index in alerted and n == 0 and start <= alert_at < start + step
                peak = _alert_value(m.high) if anomalous else None
                out[s.gateway].append(_summary(0, s, m.name, start, step, value, peak))
        if index == 0:
            out[s.gateway].append(Gap(
                seq=0, sensor=s.sensor, metric=metrics[0].name, start=now - SHED_HOURS[0] * 3600,
                end=now - SHED_HOURS[1] * 3600, count=120, reason="shed",
            ))  # fmt: skip
        if index in alerted:
            out[s.gateway].append(alert(s, alert_at, alerted[index]))
    return out


def _steps(first: float, now: float, step: float) -> Iterator[float]:
    start = first
    while start + step <= now:
        yield start
        start += step


def _alert_value(high: float) -> float:
    return min(high, 1000.0) * 0.45


def alert(s: Sensor, ts: float, severity: str = "critical", seq: int = 0) -> Alert:
    """An alert on the first metric of ``s``'s kind, as the edge sends it."""
    m = next(iter(KINDS[s.kind].metrics.values()))
    return Alert(
        seq=seq, sensor=s.sensor, kind=s.kind, metric=m.name, ts=ts, value=_alert_value(m.high),
        high=_alert_value(m.high) * 0.6, score=0.97, severity=severity,
        reason="far outside its usual range",
    )  # fmt: skip


def heartbeat(seq: int, now: float, **fields: float | int | str) -> Heartbeat:
    """A gateway's heartbeat; keyword arguments override its readings."""
    data: dict[str, object] = {
        "seq": seq, "ts": now, "uptime_s": 86_400.0, "cpu_percent": 14.0, "rss_mb": 82.0,
        "disk_free_mb": 9_000.0, "buffer_depth": 12, "oldest_unsent_age_s": 0.8,
        "readings_total": 1_200_000, "readings_per_s": 14.0, "dead_letter_total": 0,
        "shed_total": 0, "model_version": "aq-ae-3", "config_version": 1, "clock_offset_s": 0.012,
    }  # fmt: skip
    return Heartbeat.model_validate(data | fields)


def batches(per_gateway: dict[str, list[Record]], sent_at: float) -> Iterator[Batch]:
    """The records as batches, numbered per gateway as an outbox numbers them."""
    for gateway, items in per_gateway.items():
        numbered = [r.model_copy(update={"seq": n}) for n, r in enumerate(items, start=1)]
        for i in range(0, len(numbered), BATCH_RECORDS):
            yield Batch(gateway=gateway, sent_at=sent_at, records=numbered[i : i + BATCH_RECORDS])


def populate(http: httpx.Client, text: str, now: float, hours: float = 24.0) -> list[Sensor]:
    """Send the sample day (or ``hours``) of the city ``text`` to the aggregator behind ``http``."""
    sensors = sensors_of(text)
    per_gateway = records(sensors, now, hours=hours)
    gateways = sorted(per_gateway)
    # Heartbeats from every gateway but the last, which therefore shows as never heard.
    for n, gateway in enumerate(gateways[:-1]):
        # The second gateway struggles: a backlog, shed readings, dead letters, a drifting clock.
        health = BACKLOGGED if n == 1 else {"buffer_depth": 12 + n}
        per_gateway[gateway].append(heartbeat(0, now, **health))
    for batch in batches(per_gateway, now):
        response = http.post(
            INGEST_PATH,
            content=encode_batch(batch),
            headers={"Content-Type": "application/json", "Content-Encoding": "gzip"},
        )
        response.raise_for_status()
    _act_on_incidents(http)
    return sensors


def _act_on_incidents(http: httpx.Client) -> None:
    # One incident acknowledged, assigned and commented, so the audit trail has a story.
    found = http.get("/api/v1/incidents", params={"state": "open"}).json()["items"]
    warnings = [i for i in found if i["severity"] == "warning"]
    if warnings:
        path = f"/api/v1/incidents/{warnings[0]['id']}"
        http.post(f"{path}/acknowledge", json={"by": "ana", "note": "crew informed"})
        http.post(f"{path}/assign", json={"by": "ana", "assignee": "luis"})
        http.post(f"{path}/comments", json={"by": "luis", "text": "on site in 20 min"})
