"""Sequence tracking: duplicates, gaps and restarts."""

from __future__ import annotations

import pytest

from edge.sequence import SequenceTracker, Verdict


@pytest.mark.parametrize(
    ("seqs", "last_verdict", "last_missing"),
    [
        ([0], Verdict.NEW, 0),
        ([0, 1], Verdict.NEW, 0),
        ([0, 1, 1], Verdict.DUPLICATE, 0),
        ([0, 1, 5], Verdict.NEW, 3),
        ([0, 1, 5, 3], Verdict.NEW, 0),  # late, not a duplicate
        ([0, 1, 5, 3, 3], Verdict.DUPLICATE, 0),
        ([5000, 0], Verdict.RESTART, 0),
        ([5000, 0, 1], Verdict.NEW, 0),
        ([5000, 4990], Verdict.NEW, 0),
    ],
)
def test_verdicts(seqs: list[int], last_verdict: Verdict, last_missing: int) -> None:
    tracker = SequenceTracker()
    for seq in seqs[:-1]:
        tracker.observe("s", seq, float(seq))
    seen = tracker.observe("s", seqs[-1], 0.0)  # an old time: a repeat, not a reboot
    assert seen.verdict is last_verdict
    assert seen.missing == last_missing


def test_redelivered_zero_is_a_duplicate_but_a_later_zero_is_a_reboot() -> None:
    tracker = SequenceTracker()
    for seq in range(50):
        tracker.observe("s", seq, 1000.0 + seq)
    assert tracker.observe("s", 0, 1000.0).verdict is Verdict.DUPLICATE  # QoS 1 redelivery
    assert tracker.observe("s", 0, 2000.0).verdict is Verdict.RESTART  # rebooted early
    assert tracker.observe("s", 1, 2001.0).verdict is Verdict.NEW


def test_sensors_are_tracked_separately() -> None:
    tracker = SequenceTracker()
    assert tracker.observe("a", 7).verdict is Verdict.NEW
    assert tracker.observe("b", 7).verdict is Verdict.NEW
    assert tracker.observe("a", 7).verdict is Verdict.DUPLICATE
