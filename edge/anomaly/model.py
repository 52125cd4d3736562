"""The learned part: an ONNX model and its card, run by onnxruntime in batches."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from edge.anomaly.errors import ModelInvalid, ModelNotFound
from edge.anomaly.features import FEATURES

CARD_FORMAT: Final = "citytwin-anomaly-model/1"
DEFAULT_NAME: Final = "default.onnx"

Floats32 = npt.NDArray[np.float32]


@dataclass(frozen=True, slots=True)
class AlertPolicy:
    """Raise at ``on``; clear after ``clear_after`` scores in a row below ``off``."""

    on: float = 0.5
    off: float = 0.25
    clear_after: int = 6
    critical: float = 0.9

    def __post_init__(self) -> None:
        if not 0 < self.off <= self.on <= 1:
            raise ValueError(f"alert policy: need 0 < off ({self.off}) <= on ({self.on}) <= 1")
        if self.clear_after < 1:
            raise ValueError(f"alert policy: clear_after ({self.clear_after}) must be >= 1")


@dataclass(frozen=True, slots=True)
class Card:
    """What the runtime needs from a model card (the file holds more: data, metrics)."""

    version: str
    sha256: str
    features: tuple[str, ...]
    calibration_raw: tuple[float, ...]
    calibration_score: tuple[float, ...]
    policy: AlertPolicy
    raw: dict[str, Any]


def card_path(model: Path) -> Path:
    """The card that belongs to ``model``: same name, ``.json``."""
    return model.with_suffix(".json")


def default_model() -> Path:
    """The model shipped inside the package."""
    return Path(str(resources.files("edge.anomaly") / "models" / DEFAULT_NAME))


def sha256(path: Path) -> str:
    """Hex sha256 of a file's bytes."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def parse_card(data: dict[str, Any]) -> Card:
    """A card from its JSON; ModelInvalid names what is wrong."""
    if data.get("format") != CARD_FORMAT:
        raise ModelInvalid(f"card format is {data.get('format')!r}, expected {CARD_FORMAT!r}")
    try:
        calibration = data["calibration"]
        alerting = data["alerting"]
        card = Card(
            version=str(data["version"]),
            sha256=str(data["sha256"]),
            features=tuple(data["input"]["features"]),
            calibration_raw=tuple(float(v) for v in calibration["raw"]),
            calibration_score=tuple(float(v) for v in calibration["score"]),
            policy=AlertPolicy(**alerting),
            raw=data,
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise ModelInvalid(f"card: {type(exc).__name__}: {exc}") from exc
    if card.features != FEATURES:
        raise ModelInvalid(f"card features {list(card.features)} are not this runtime's")
    if len(card.calibration_raw) != len(card.calibration_score) or not card.calibration_raw:
        raise ModelInvalid("card calibration tables differ in length or are empty")
    return card


def read_card(model: Path) -> Card:
    """The card of ``model``, checked against the model file's hash."""
    path = card_path(model)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        digest = sha256(model)
    except FileNotFoundError as exc:
        raise ModelNotFound(f"{exc.filename}: no such file") from exc
    except json.JSONDecodeError as exc:
        raise ModelInvalid(f"{path}: not JSON: {exc}") from exc
    card = parse_card(data)
    if card.sha256 != digest:
        raise ModelInvalid(f"{model}: sha256 {digest[:12]}... does not match its card")
    return card


def calibrate(raw: Floats32, card: Card) -> Floats32:
    """Map raw model outputs to calibrated scores in [0, 1] (piecewise linear, monotone)."""
    score = np.interp(raw, card.calibration_raw, card.calibration_score)
    return np.clip(score, 0.0, 1.0).astype(np.float32)


class Model:
    """An onnxruntime session over a checked model: features in, calibrated scores out."""

    def __init__(self, path: Path, card: Card, threads: int = 1) -> None:
        import onnxruntime as ort  # heavy: imported when a model is loaded, not at import

        options = ort.SessionOptions()
        # One thread by default: the agent scores on its own worker thread, and on a small
        # gateway the other cores serve the broker and the store.
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        try:
            self._session = ort.InferenceSession(
                str(path), options, providers=["CPUExecutionProvider"]
            )
        except Exception as exc:  # onnxruntime raises its own untyped errors
            raise ModelInvalid(f"{path}: onnxruntime cannot load it: {exc}") from exc
        self._input = self._session.get_inputs()[0].name
        self.card = card
        self.path = path

    @classmethod
    def load(cls, path: Path | str | None = None, threads: int = 1) -> Model:
        """The model at ``path`` (the shipped default if None), verified against its card."""
        model = default_model() if path is None else Path(path)
        if not model.is_file():
            raise ModelNotFound(f"{model}: no such model file")
        return cls(model, read_card(model), threads)

    def raw(self, features: Floats32) -> Floats32:
        """The model's raw output for each row of ``features``."""
        if len(features) == 0:
            return np.zeros(0, dtype=np.float32)
        out = self._session.run(None, {self._input: features})[0]
        return np.asarray(out, dtype=np.float32).reshape(-1)

    def score(self, features: Floats32) -> Floats32:
        """Calibrated scores in [0, 1]."""
        return calibrate(self.raw(features), self.card)
