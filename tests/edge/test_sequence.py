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
        ([0, 1, 2, 0], Verdict.RESTART, 0),  # rebooted early: 0 always starts afresh
        ([0, 1, 2, 0, 1], Verdict.NEW, 0),
    ],
)
def test_verdicts(seqs: list[int], last_verdict: Verdict, last_missing: int) -> None:
    tracker = SequenceTracker()
    for seq in seqs[:-1]:
        tracker.observe("s", seq)
    seen = tracker.observe("s", seqs[-1])
    assert seen.verdict is last_verdict
    assert seen.missing == last_missing


def test_sensors_are_tracked_separately() -> None:
    tracker = SequenceTracker()
    assert tracker.observe("a", 7).verdict is Verdict.NEW
    assert tracker.observe("b", 7).verdict is Verdict.NEW
    assert tracker.observe("a", 7).verdict is Verdict.DUPLICATE
