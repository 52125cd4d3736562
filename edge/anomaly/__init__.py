"""Anomaly detection at the edge: causal per-stream state, an int8 ONNX model, alerts.

detector = Detector.load()                       # the shipped model, or a path
scored = detector.score_detail(sensor, metric, ts, value)
alerts = Alerter(detector.model.card.policy).update(
    sensor, kind, metric, ts, value, scored.score, scored.low, scored.high, scored.cause)
"""

from edge.anomaly.alerts import Alerter
from edge.anomaly.detector import Detector, Scored
from edge.anomaly.errors import AnomalyError, ModelError, ModelInvalid, ModelNotFound, ReplayError
from edge.anomaly.model import AlertPolicy

__all__ = [
    "AlertPolicy",
    "Alerter",
    "AnomalyError",
    "Detector",
    "ModelError",
    "ModelInvalid",
    "ModelNotFound",
    "ReplayError",
    "Scored",
]
