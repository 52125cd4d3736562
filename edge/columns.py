"""A batch of accepted readings as columns, one row per metric value, and its window groups.

The pipeline's per-value work is what limits a gateway's rate: a reading of an air-quality
sensor carries four or five metrics. Rows are gathered once into plain lists (cheap appends),
then windows and the detector work on whole columns with numpy, so Python runs once per
(sensor, metric, window) of a batch rather than once per value. Pure: no I/O, no clock.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import chain, repeat

import numpy as np
import numpy.typing as npt

from shared.reading import Reading

Floats = npt.NDArray[np.float64]
Ints = npt.NDArray[np.int64]
Scores = npt.NDArray[np.float32] | npt.NDArray[np.float64]

NO_SEQ = 1 << 40  # above every sequence number (they are below 2**32): "none yet"


@dataclass(frozen=True, slots=True)
class PerValue:
    """A batch's values with what each one needs: the expanded form of ``Columns``."""

    sensor: list[str]
    kind: list[str]
    metric: list[str]
    ts: Floats
    seq: Ints
    rid: Ints
    received: Floats
    value: Floats


@dataclass(slots=True)
class Columns:
    """Metric values in arrival order, with what windows and the detector need of each.

    Filled a reading at a time on the hot path: the values and their names per value, the
    rest once per reading. ``per_value`` expands that once, on first use, which the agent
    does on its scorer thread; a Columns is not added to after that.
    """

    metric: list[str] = field(default_factory=list)
    value: list[float] = field(default_factory=list)
    # Per reading: how many values it has, and what they share.
    _width: list[int] = field(default_factory=list)
    _sensor: list[str] = field(default_factory=list)
    _kind: list[str] = field(default_factory=list)
    _ts: list[float] = field(default_factory=list)
    _seq: list[int] = field(default_factory=list)
    _rid: list[int] = field(default_factory=list)  # the stored message the reading came in
    _received: list[float] = field(default_factory=list)  # gateway arrival time
    _expanded: PerValue | None = None

    def __len__(self) -> int:
        return len(self.value)

    def add(self, reading: Reading, rid: int, received: float) -> None:
        """Append every metric of ``reading`` (stamped with an observation time)."""
        assert reading.ts is not None  # the decoder stamps readings that came without a time
        metrics = reading.metrics
        self.metric += metrics.keys()
        self.value += metrics.values()
        self._width.append(len(metrics))
        self._sensor.append(reading.sensor)
        self._kind.append(reading.kind)
        self._ts.append(reading.ts)
        self._seq.append(reading.seq)
        self._rid.append(rid)
        self._received.append(received)

    def per_value(self) -> PerValue:
        """Everything per value, expanded once (numbers as numpy arrays)."""
        if self._expanded is None:
            width = self._width
            if len(width) == len(self.value):  # one value a reading: nothing to repeat
                sensor, kind = self._sensor, self._kind
                counts: Ints | int = 1
            else:
                sensor = list(chain.from_iterable(map(repeat, self._sensor, width)))
                kind = list(chain.from_iterable(map(repeat, self._kind, width)))
                counts = np.asarray(width, dtype=np.int64)
            self._expanded = PerValue(
                sensor, kind, self.metric,
                np.repeat(np.asarray(self._ts, dtype=np.float64), counts),
                np.repeat(np.asarray(self._seq, dtype=np.int64), counts),
                np.repeat(np.asarray(self._rid, dtype=np.int64), counts),
                np.repeat(np.asarray(self._received, dtype=np.float64), counts),
                np.asarray(self.value, dtype=np.float64),
            )  # fmt: skip
        return self._expanded


@dataclass(frozen=True, slots=True)
class Groups:
    """Per (stream, window) of a batch: where its rows are and their combined statistics.

    Rows are taken in arrival order within a group, so "last" means what a one-by-one
    update would have kept.
    """

    row: Ints  # one row of the group (for its sensor, kind, metric)
    stream: Ints
    window: Ints  # window index: start = window * length
    count: Ints
    mean: Floats
    m2: Floats
    low: Floats
    high: Floats
    first_ts: Floats
    last_ts: Floats
    last_value: Floats  # the value of the latest observation (the last to arrive on a tie)
    seq_lo: Ints
    seq_hi: Ints
    first_id: Ints
    last_id: Ints
    touched: Floats  # arrival time of the group's last row
    anomalies: Ints
    max_score: Floats  # nan when the batch was not scored
    gid: Ints  # per row in group order: its group
    seq: Ints  # per row in group order: its sequence number
    starts: Ints  # the first position in group order of each group

    def __len__(self) -> int:
        return len(self.row)


def group(stream: Ints, cols: Columns, length: float, score: Scores | None, on: float) -> Groups:
    """Group the rows by (stream, window) and reduce each group."""
    pv = cols.per_value()
    ts, value = pv.ts, pv.value
    window = np.floor(ts / length).astype(np.int64)
    order = np.lexsort((window, stream))  # stable: arrival order within a group
    s_stream, s_window = stream[order], window[order]
    n = len(order)
    new = np.ones(n, dtype=bool)
    new[1:] = (s_stream[1:] != s_stream[:-1]) | (s_window[1:] != s_window[:-1])
    starts = np.flatnonzero(new)
    ends = np.append(starts[1:], n)
    gid = np.cumsum(new) - 1
    v, t = value[order], ts[order]
    q = pv.seq[order]
    rid = pv.rid[order]
    counts = ends - starts
    low, high = np.minimum.reduceat(v, starts), np.maximum.reduceat(v, starts)
    # A group of one repeated value has exactly that mean and no spread (a sum divided back
    # would be off by a rounding, and a flat sensor would show a variance of 1e-27).
    flat = low == high
    mean = np.where(flat, low, np.add.reduceat(v, starts) / counts)
    dev = v - mean[gid]
    last_ts = np.maximum.reduceat(t, starts)
    # The latest observation of each group, the last to arrive among equal times.
    at_last = np.where(t == last_ts[gid], np.arange(n), -1)
    last_pos = np.maximum.reduceat(at_last, starts)
    received = pv.received[order]
    if score is None:
        anomalies = np.zeros(len(starts), dtype=np.int64)
        max_score = np.full(len(starts), np.nan)
    else:
        s = score[order].astype(np.float64)
        anomalies = np.add.reduceat((s >= on).astype(np.int64), starts)
        max_score = np.fmax.reduceat(s, starts)  # a NaN score, were there one, is no score
    return Groups(
        row=order[starts],
        stream=s_stream[starts],
        window=s_window[starts],
        count=counts,
        mean=mean,
        m2=np.where(flat, 0.0, np.add.reduceat(dev * dev, starts)),
        low=low,
        high=high,
        first_ts=np.minimum.reduceat(t, starts),
        last_ts=last_ts,
        last_value=v[last_pos],
        seq_lo=np.minimum.reduceat(q, starts),
        seq_hi=np.maximum.reduceat(q, starts),
        first_id=np.minimum.reduceat(rid, starts),
        last_id=np.maximum.reduceat(rid, starts),
        touched=received[ends - 1],
        anomalies=anomalies,
        max_score=max_score,
        gid=gid,
        seq=q,
        starts=starts,
    )


def restarts(groups: Groups, seq_lo_before: Ints, jump: int) -> npt.NDArray[np.bool_]:
    """Per group: did a sequence number fall more than ``jump`` below every earlier one?

    ``seq_lo_before`` is each group's lowest number before this batch (``NO_SEQ`` for a new
    window). The same test a one-by-one update makes: each number against the lowest seen
    before it, in the window and earlier in the batch.
    """
    seq, gid, starts = groups.seq, groups.gid, groups.starts
    # A prefix minimum that restarts at each group: lift every group above all later ones
    # (numbers are below 2**32, so 2**33 apart keeps groups from mixing).
    lift = (len(starts) - gid) << 33
    prefix = np.minimum.accumulate(seq + lift) - lift
    before = np.empty_like(seq)
    before[1:] = prefix[:-1]
    before[starts] = NO_SEQ
    lowest = np.minimum(before, seq_lo_before[gid])
    fell = (lowest < NO_SEQ) & (seq < lowest - jump)
    return np.logical_or.reduceat(fell, starts)
