"""The detector runtime: features, scores, alerts, the model card."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from edge.anomaly import Alerter, AlertPolicy, Detector, ModelInvalid, ModelNotFound
from edge.anomaly.features import FEATURES, squash
from edge.anomaly.model import default_model
from shared.wire.uplink import Alert


def _series(n: int = 600, seed: int = 0, scale: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    ts = 1_700_000_000 + 300.0 * np.arange(n)
    value = scale * (20 + 5 * np.sin(ts / 86400 * 2 * np.pi) + rng.normal(0, 0.5, n))
    return ts, value


def test_squash_is_bounded_and_finite() -> None:
    z = np.array([0.0, 1.0, -1.0, 1e300, -np.inf, np.nan])
    out = squash(z)
    assert np.all(np.isfinite(out))
    assert np.all(np.abs(out) <= 8)
    assert out[0] == 0
    assert out[1] == -out[2]


def test_scores_are_in_unit_range_and_independent_of_batching() -> None:
    ts, value = _series()
    whole = Detector.load().score(["s"] * len(ts), ["m"] * len(ts), ts, value)
    chunked = Detector.load()
    parts = [chunked.score(["s"] * 50, ["m"] * 50, ts[i : i + 50], value[i : i + 50])
             for i in range(0, len(ts), 50)]  # fmt: skip
    assert np.all((whole >= 0) & (whole <= 1))
    np.testing.assert_allclose(np.concatenate(parts), whole, atol=1e-6)


def test_scores_do_not_depend_on_units() -> None:
    ts, value = _series()
    plain = Detector.load().score(["s"] * len(ts), ["m"] * len(ts), ts, value)
    scaled = Detector.load().score(["s"] * len(ts), ["m"] * len(ts), ts, value * 1000)
    np.testing.assert_array_equal(plain, scaled)  # every statistic is the stream's own
    shifted = Detector.load().score(["s"] * len(ts), ["m"] * len(ts), ts, value * 1000 + 5e4)
    # The second reading is judged against a floor relative to the first one's magnitude (a
    # stream has no spread yet), so an offset changes it; from the third on, it does not.
    assert np.abs(plain - shifted)[2:].max() < 0.05


def test_streams_are_independent() -> None:
    ts, value = _series()
    alone = Detector.load().score(["a"] * len(ts), ["m"] * len(ts), ts, value)
    mixed = Detector.load()
    n = len(ts)
    both = mixed.score(["a", "b"] * n, ["m"] * 2 * n, np.repeat(ts, 2),
                       np.ravel(np.c_[value, value[::-1] * 7]))  # fmt: skip
    np.testing.assert_allclose(both[::2], alone, atol=1e-6)
    assert mixed.streams == 2


def test_a_spike_scores_far_above_normal_readings() -> None:
    ts, value = _series(n=2000)
    value[1500] += 40  # eighty noise spreads
    score = Detector.load().score(["s"] * len(ts), ["m"] * len(ts), ts, value)
    assert score[1500] > 0.8
    assert np.median(score[500:1400]) < 0.05


def test_non_finite_values_score_zero_and_leave_state_alone() -> None:
    ts, value = _series(n=300)
    holed = value.copy()
    holed[100] = np.nan
    detector = Detector.load()
    scored = detector.score_detail(["s"] * 300, ["m"] * 300, ts, holed)
    assert scored.score[100] == 0
    assert np.all(np.isfinite(scored.score))


def test_mismatched_lengths_are_refused() -> None:
    with pytest.raises(ValueError, match="same length"):
        Detector.load().score(["s"], ["m", "n"], [1.0], [2.0])


def test_alerter_raises_one_alert_per_incident_and_clears() -> None:
    alerter = Alerter(AlertPolicy(on=0.5, off=0.2, clear_after=3))
    scores = [0.1, 0.9, 0.6, 0.1, 0.95, 0.1, 0.1, 0.1, 0.7]
    n = len(scores)
    alerts = alerter.update(["s"] * n, ["noise"] * n, ["LAeq"] * n, np.arange(n) * 60.0 + 1,
                            np.arange(n, dtype=float), scores, np.zeros(n), np.ones(n))  # fmt: skip
    assert [a["ts"] for a in alerts] == [61.0, 481.0]  # the 0.95 is still the first incident
    for alert in alerts:
        Alert.model_validate({**alert, "seq": 1})  # the uplink contract accepts it
    assert alerter.open_incidents == 1


def test_alerter_with_stream_ids_raises_what_it_raises_without() -> None:
    """The numpy path (stream ids given) and the one-reading-at-a-time path agree, batch by
    batch, across incidents that open in one batch and clear in another."""
    rng = np.random.default_rng(4)
    streams = [("a", "x"), ("a", "y"), ("b", "x"), ("c", "z")]
    plain, numbered = (
        Alerter(AlertPolicy(on=0.6, off=0.3, clear_after=2)),
        Alerter(AlertPolicy(on=0.6, off=0.3, clear_after=2)),
    )
    raised = 0
    for batch in range(40):
        pick = rng.integers(0, len(streams), 25)
        sensor = [streams[i][0] for i in pick]
        metric = [streams[i][1] for i in pick]
        ts = batch * 100.0 + np.arange(25)
        score = rng.choice([0.05, 0.2, 0.5, 0.7, 0.9], 25)
        args = (sensor, ["noise"] * 25, metric, ts, ts, score)
        expected = plain.update(*args)
        assert numbered.update(*args, ids=pick.astype(np.int64)) == expected
        assert numbered.open_incidents == plain.open_incidents
        raised += len(expected)
    assert raised > 10  # incidents opened and cleared many times over


@pytest.mark.parametrize(("score", "severity"), [(0.6, "warning"), (0.95, "critical")])
def test_severity_follows_the_score(score: float, severity: str) -> None:
    alerts = Alerter(AlertPolicy(on=0.5, off=0.2)).update(["s"], ["k"], ["m"], [1.0], [2.0],
                                                          [score])  # fmt: skip
    assert alerts[0]["severity"] == severity
    assert alerts[0]["low"] is None


def test_alert_policy_rejects_inverted_thresholds() -> None:
    with pytest.raises(ValueError, match="off"):
        AlertPolicy(on=0.3, off=0.5)


def test_the_shipped_model_is_small_and_matches_its_card() -> None:
    path = default_model()
    card = json.loads(path.with_suffix(".json").read_text())
    assert path.stat().st_size < 100_000
    assert card["input"]["features"] == list(FEATURES)
    assert Detector.load().version == card["version"]


def test_missing_and_tampered_models_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ModelNotFound):
        Detector.load(tmp_path / "none.onnx")
    model = tmp_path / "m.onnx"
    shutil.copy(default_model(), model)
    with pytest.raises(ModelNotFound):
        Detector.load(model)  # no card beside it
    card = json.loads(default_model().with_suffix(".json").read_text())
    model.with_suffix(".json").write_text(json.dumps({**card, "sha256": "0" * 64}))
    with pytest.raises(ModelInvalid, match="sha256"):
        Detector.load(model)
