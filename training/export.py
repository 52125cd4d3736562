"""ONNX export of a trained MLP with onnx.helper, int8 quantisation and the model card."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from edge.anomaly.features import FEATURES
from edge.anomaly.model import CARD_FORMAT, sha256
from training.errors import ExportError
from training.mlp import Weights

OPSET: Final = 17
FIRST_NODE: Final = "matmul0"
IR_VERSION: Final = 8  # readable by every onnxruntime the edge extra allows (>= 1.18)


def to_onnx(weights: Weights, path: Path) -> None:
    """Write ``weights`` as an ONNX graph: features [N, F] float32 -> score [N, 1] in (0, 1)."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    nodes = []  # the first is FIRST_NODE: the quantiser leaves its inputs float
    inits = []
    h = "features"
    last = len(weights.w) - 1
    for i, (w, b) in enumerate(zip(weights.w, weights.b, strict=True)):
        inits += [numpy_helper.from_array(w.astype(np.float32), f"w{i}"),
                  numpy_helper.from_array(b.astype(np.float32), f"b{i}")]  # fmt: skip
        nodes += [helper.make_node("MatMul", [h, f"w{i}"], [f"m{i}"], name=f"matmul{i}"),
                  helper.make_node("Add", [f"m{i}", f"b{i}"], [f"a{i}"])]  # fmt: skip
        h = f"a{i}"
        if i < last:
            nodes.append(helper.make_node("Relu", [h], [f"r{i}"]))
            h = f"r{i}"
    nodes.append(helper.make_node("Sigmoid", [h], ["score"]))
    graph = helper.make_graph(
        nodes, "citytwin-anomaly",
        [helper.make_tensor_value_info("features", TensorProto.FLOAT, ["n", len(FEATURES)])],
        [helper.make_tensor_value_info("score", TensorProto.FLOAT, ["n", 1])],
        inits,
    )  # fmt: skip
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    model.ir_version = IR_VERSION
    model.producer_name = "citytwin-training"
    onnx.checker.check_model(model)
    path.write_bytes(model.SerializeToString(deterministic=True))


def quantize(source: Path, target: Path, calibration: npt.NDArray[np.float32]) -> None:
    """Static int8 quantisation (QDQ), with the first layer's weights int8 but its inputs float.

    Static rather than dynamic: scales fixed at export make a reading's score independent of
    the other readings in its batch, so replay and the agent agree. The first layer keeps float
    inputs because the features span a wide range: quantising them to 8 bits cost 0.12 event F1
    on held-out data (docs/anomaly-detection.md); its weights are still stored as int8.
    """
    import onnx
    from onnxruntime.quantization import (
        CalibrationDataReader,
        QuantFormat,
        QuantType,
        quantize_static,
    )

    class _Reader(CalibrationDataReader):  # type: ignore[misc]
        def __init__(self) -> None:
            self._batches = iter(
                [{"features": calibration[i : i + 4096]} for i in range(0, len(calibration), 4096)]
            )

        def get_next(self) -> dict[str, npt.NDArray[np.float32]] | None:
            return next(self._batches, None)

    quantize_static(
        str(source), str(target), _Reader(), quant_format=QuantFormat.QDQ,
        activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
        nodes_to_exclude=[FIRST_NODE],
    )  # fmt: skip
    model = onnx.load(str(target))
    _int8_weights(model, "w0")
    target.write_bytes(model.SerializeToString(deterministic=True))


def _int8_weights(model: Any, name: str) -> None:
    """Store float initializer ``name`` as int8 with per-column scales and a DequantizeLinear."""
    from onnx import helper, numpy_helper

    graph = model.graph
    index = next(i for i, t in enumerate(graph.initializer) if t.name == name)
    w = numpy_helper.to_array(graph.initializer[index]).astype(np.float64)
    scale = np.maximum(np.abs(w).max(axis=0), 1e-12) / 127
    q = np.clip(np.round(w / scale), -127, 127).astype(np.int8)
    del graph.initializer[index]
    graph.initializer.extend([
        numpy_helper.from_array(q, f"{name}_int8"),
        numpy_helper.from_array(scale.astype(np.float32), f"{name}_scale"),
        numpy_helper.from_array(np.zeros(len(scale), dtype=np.int8), f"{name}_zero"),
    ])  # fmt: skip
    node = helper.make_node(
        "DequantizeLinear", [f"{name}_int8", f"{name}_scale", f"{name}_zero"], [name], axis=1
    )
    graph.node.insert(0, node)


def weight_bytes(path: Path) -> int:
    """Bytes taken by the model's weight tensors (initialisers)."""
    import onnx
    from onnx import numpy_helper

    model = onnx.load(str(path))
    return sum(numpy_helper.to_array(t).nbytes for t in model.graph.initializer)


def run(path: Path, x: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    """Raw outputs of the ONNX model at ``path`` (one thread)."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    out = session.run(None, {"features": x})[0]
    return np.asarray(out, dtype=np.float32).reshape(-1)


def check_agreement(
    float_out: npt.NDArray[np.float32], int8_out: npt.NDArray[np.float32], tolerance: float
) -> dict[str, float]:
    """Mean and tail differences of float and int8 outputs; ExportError if the mean is too big."""
    diff = np.abs(float_out.astype(np.float64) - int8_out)
    mean = float(diff.mean()) if len(diff) else 0.0
    if mean > tolerance:
        raise ExportError(
            f"int8 model differs from float by {mean:.4f} on average (limit {tolerance})"
        )
    p99 = float(np.quantile(diff, 0.99)) if len(diff) else 0.0
    return {"mean_abs_difference": round(mean, 5), "p99_abs_difference": round(p99, 5)}


def write_card(model: Path, card: dict[str, Any]) -> Path:
    """Write the card beside ``model`` with the model's sha256 and format filled in."""
    body = {"format": CARD_FORMAT, **card, "sha256": sha256(model)}
    path = model.with_suffix(".json")
    path.write_text(json.dumps(body, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    return path
