"""A batch of accepted readings as columns, one row per metric value, and its window groups.

The pipeline's per-value work is what limits a gateway's rate: a reading of an air-quality
sensor carries four or five metrics. Rows are gathered once into plain lists (cheap appends),
then windows and the detector work on whole columns with numpy, so Python runs once per
(sensor, metric, window) of a batch rather than once per value. Pure: no I/O, no clock.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from shared.reading import Reading

Floats = npt.NDArray[np.float64]
Ints = npt.NDArray[np.int64]
Scores = npt.NDArray[np.float32] | npt.NDArray[np.float64]

NO_SEQ = 1 << 40  # above every sequence number (they are below 2**32): "none yet"


@dataclass(slots=True)
class Columns:
    """Metric values in arrival order, with what windows and the detector need of each."""

    sensor: list[str] = field(default_factory=list)
    kind: list[str] = field(default_factory=list)
    metric: list[str] = field(default_factory=list)
    ts: list[float] = field(default_factory=list)
    value: list[float] = field(default_factory=list)
    seq: list[int] = field(default_factory=list)
    rid: list[int] = field(default_factory=list)  # the stored message the value came in
    received: list[float] = field(default_factory=list)  # gateway arrival time

    def __len__(self) -> int:
        return len(self.value)

    def add(self, reading: Reading, rid: int, received: float) -> None:
        """Append every metric of ``reading`` (stamped with an observation time)."""
        ts = reading.ts
        assert ts is not None  # the decoder stamps readings that came without a time
        n = len(reading.metrics)
        self.metric += reading.metrics.keys()
        self.value += reading.metrics.values()
        if n == 1:
            self.sensor.append(reading.sensor)
            self.kind.append(reading.kind)
            self.ts.append(ts)
            self.seq.append(reading.seq)
            self.rid.append(rid)
            self.received.append(received)
        else:
            self.sensor += [reading.sensor] * n
            self.kind += [reading.kind] * n
            self.ts += [ts] * n
            self.seq += [reading.seq] * n
            self.rid += [rid] * n
            self.received += [received] * n


@dataclass(frozen=True, slots=True)
class Groups:
    """Per (stream, window) of a batch: where its rows are and their combined statistics.

    Rows are taken in arrival order within a group, so "last" means what a one-by-one
    update would have kept.
    """

    row: list[int]  # one row of the group (for its sensor, kind, metric)
    window: list[int]  # window index: start = window * length
    count: list[int]
    mean: list[float]
    m2: list[float]
    low: list[float]
    high: list[float]
    first_ts: list[float]
    last_ts: list[float]
    last_value: list[float]  # the value of the latest observation (the last to arrive on a tie)
    seq_lo: list[int]
    seq_hi: list[int]
    first_id: list[int]
    last_id: list[int]
    touched: list[float]  # arrival time of the group's last row
    anomalies: list[int]
    max_score: list[float]  # nan when the batch was not scored
    order: Ints  # rows sorted by group, arrival order kept within each
    starts: Ints  # the first position in ``order`` of each group

    def stats(self) -> Iterator[tuple[Any, ...]]:
        """Per group: count, mean, m2, low, high, first_ts, last_ts, last_value, seq_lo,
        seq_hi, first_id, last_id, touched, anomalies, max_score."""
        return zip(
            self.count, self.mean, self.m2, self.low, self.high, self.first_ts, self.last_ts,
            self.last_value, self.seq_lo, self.seq_hi, self.first_id, self.last_id,
            self.touched, self.anomalies, self.max_score, strict=True,
        )  # fmt: skip


def group(
    stream: Ints, cols: Columns, length: float, score: Scores | None, on: float
) -> tuple[Groups, Ints, Ints]:
    """Group the rows by (stream, window) and reduce each group.

    Also returns, per row in group order, its group index and its sequence number, which
    ``restarts`` needs.
    """
    ts = np.asarray(cols.ts, dtype=np.float64)
    value = np.asarray(cols.value, dtype=np.float64)
    seq = np.asarray(cols.seq, dtype=np.int64)
    window = np.floor(ts / length).astype(np.int64)
    order = np.lexsort((window, stream))  # stable: arrival order within a group
    s_stream, s_window = stream[order], window[order]
    n = len(order)
    new = np.ones(n, dtype=bool)
    new[1:] = (s_stream[1:] != s_stream[:-1]) | (s_window[1:] != s_window[:-1])
    starts = np.flatnonzero(new)
    ends = np.append(starts[1:], n)
    counts = ends - starts
    gid = np.cumsum(new) - 1
    v, t, q = value[order], ts[order], seq[order]
    rid = np.asarray(cols.rid, dtype=np.int64)[order]
    mean = np.add.reduceat(v, starts) / counts
    dev = v - mean[gid]
    last_ts = np.maximum.reduceat(t, starts)
    # The latest observation of each group, the last to arrive among equal times.
    at_last = np.where(t == last_ts[gid], np.arange(n), -1)
    last_pos = np.maximum.reduceat(at_last, starts)
    received = np.asarray(cols.received, dtype=np.float64)[order]
    if score is None:
        anomalies = np.zeros(len(starts), dtype=np.int64)
        max_score = np.full(len(starts), np.nan)
    else:
        s = score[order].astype(np.float64)
        anomalies = np.add.reduceat((s >= on).astype(np.int64), starts)
        max_score = np.maximum.reduceat(s, starts)
    groups = Groups(
        row=order[starts].tolist(),
        window=s_window[starts].tolist(),
        count=counts.tolist(),
        mean=mean.tolist(),
        m2=np.add.reduceat(dev * dev, starts).tolist(),
        low=np.minimum.reduceat(v, starts).tolist(),
        high=np.maximum.reduceat(v, starts).tolist(),
        first_ts=np.minimum.reduceat(t, starts).tolist(),
        last_ts=last_ts.tolist(),
        last_value=v[last_pos].tolist(),
        seq_lo=np.minimum.reduceat(q, starts).tolist(),
        seq_hi=np.maximum.reduceat(q, starts).tolist(),
        first_id=np.minimum.reduceat(rid, starts).tolist(),
        last_id=np.maximum.reduceat(rid, starts).tolist(),
        touched=received[ends - 1].tolist(),
        anomalies=anomalies.tolist(),
        max_score=max_score.tolist(),
        order=order,
        starts=starts,
    )
    return groups, gid, q


def restarts(gid: Ints, seq: Ints, starts: Ints, seq_lo_before: Ints, jump: int) -> list[bool]:
    """Per group: did a sequence number fall more than ``jump`` below every earlier one?

    ``seq`` is in group order; ``seq_lo_before`` is each group's lowest number before this
    batch (``NO_SEQ`` for a new window). The same test a one-by-one update makes: each
    number against the lowest seen before it, in the window and earlier in the batch.
    """
    if len(seq) == 0:
        return []
    # A prefix minimum that restarts at each group: lift every group above all later ones
    # (numbers are below 2**32, so 2**33 apart keeps groups from mixing).
    lift = (len(starts) - gid) << 33
    prefix = np.minimum.accumulate(seq + lift) - lift
    before = np.empty_like(seq)
    before[1:] = prefix[:-1]
    before[starts] = NO_SEQ
    lowest = np.minimum(before, seq_lo_before[gid])
    fell = (lowest < NO_SEQ) & (seq < lowest - jump)
    return np.logical_or.reduceat(fell, starts).tolist()  # type: ignore[no-any-return]
