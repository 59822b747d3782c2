"""The int8 encoder: the fp32 ONNX export with smoothing scales folded in and its MatMuls quantised to int8.

A few hidden dimensions of MiniLM carry values far larger than the rest, so one int8 scale for a MatMul's input
rounds the others coarsely (token cosine to the fp32 export 0.989 with ONNX Runtime's dynamic quantisation of every
MatMul). SmoothQuant (Xiao et al., 2022) moves that spread from the activations into the weights, which are
quantised per output column anyway: the input X of a MatMul with weights W becomes X / s and W becomes s * W row by
row, with s = max|X|^a / max|W|^(1-a). In fp32 nothing changes; in int8 the error shrinks about five-fold (README,
building). The smoothed input then has a small, known range, so its scale is a constant (static quantisation).

max|X| per input dimension is measured once on text no question set asks about (bench/train_int8.py) and shipped as
qa/int8_ranges.npz with the sha256 of that text. The export's sidecar records that file's sha256, so new ranges
re-create the export, and the index manifest records the export's, so new vectors ask for `qa build --force`.
"""
from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import numpy as np

from .errors import ModelError

RANGES_FILE = Path(__file__).with_name("int8_ranges.npz")  # fitted by bench/train_int8.py


def load_ranges(path: Path = RANGES_FILE) -> dict[str, Any]:
    """The fitted ranges: `inputs` (MatMul input tensor names), `amax` (their per-dimension max |x|, one array
    each), `alpha` and the sha256 of the calibration text.

    Raises:
        ModelError: the file is missing or unreadable.
    """
    try:
        with np.load(path, allow_pickle=False) as z:
            inputs = [str(x) for x in z["inputs"]]
            return {
                "inputs": inputs,
                "amax": [np.asarray(z[f"amax_{i}"], dtype=np.float32) for i in range(len(inputs))],
                "alpha": float(z["alpha"]),
                "calibration_sha256": str(z["calibration_sha256"]),
            }
    except (OSError, KeyError, ValueError) as exc:
        raise ModelError(
            f"The int8 ranges file {path} is missing or unreadable ({exc}); reinstall the package."
        ) from exc


def save_ranges(path: Path, inputs: list[str], amax: list[np.ndarray], alpha: float, calibration_sha256: str) -> None:
    arrays = {f"amax_{i}": np.asarray(a, dtype=np.float32) for i, a in enumerate(amax)}
    np.savez(path, inputs=np.asarray(inputs), alpha=np.float32(alpha),
             calibration_sha256=np.asarray(calibration_sha256), **arrays)


def quantizable(model) -> dict[str, list]:
    """The MatMuls to quantise, grouped by their input tensor: every MatMul with constant weights in the attention
    projections, the attention output and the feed-forward's first layer. The feed-forward's second layer stays
    fp32: its input (after GELU, 1,536 wide) keeps most of the error even when smoothed (README, building)."""
    consts = {i.name for i in model.graph.initializer}
    groups: dict[str, list] = {}
    for node in model.graph.node:
        if node.op_type != "MatMul" or node.input[1] not in consts:
            continue
        if "/output/dense/" in node.name and "/attention/" not in node.name:
            continue
        groups.setdefault(node.input[0], []).append(node)
    return groups


def activation_ranges(fp32_path: Path, batches) -> tuple[list[str], list[np.ndarray]]:
    """Per-dimension max |x| of every quantisable MatMul's input over the tokens of `batches` ((ids, mask) pairs)."""
    import onnx
    import onnxruntime as ort
    from onnx import TensorProto, helper

    model = onnx.load(str(fp32_path))
    inputs = list(quantizable(model))
    for name in inputs:
        model.graph.output.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, None))
    so = ort.SessionOptions()
    so.log_severity_level = 3
    session = ort.InferenceSession(model.SerializeToString(), so, providers=["CPUExecutionProvider"])
    amax: list[np.ndarray | None] = [None] * len(inputs)
    for ids, mask in batches:
        outs = session.run(inputs, {"input_ids": ids, "attention_mask": mask})
        real = mask.reshape(-1) > 0
        for i, x in enumerate(outs):
            m = np.abs(x.reshape(-1, x.shape[-1])[real]).max(axis=0)
            amax[i] = m if amax[i] is None else np.maximum(amax[i], m)
    return inputs, [a.astype(np.float32) for a in amax]


def quantize(fp32_path: Path, out_path: Path, ranges_path: Path = RANGES_FILE) -> str:
    """Write the int8 model of the fp32 export at `fp32_path` to `out_path`; return the ranges file's sha256.

    Each quantised MatMul's input is divided by its smoothing scales and quantised with one fixed scale (the largest
    smoothed range measured, symmetric, uint8 around 128); its weights are multiplied by the smoothing scales and
    quantised per output column (int8). ONNX Runtime fuses each QuantizeLinear/DequantizeLinear pair and MatMul into
    an integer MatMul. The scales are constants, so a text's vectors do not depend on the texts batched with it (ONNX
    Runtime's dynamic quantisation would scale by each batch's range).

    Raises:
        ModelError: the ranges do not fit this export (another exporter named its tensors differently).
    """
    import onnx
    from onnx import helper, numpy_helper

    ranges = load_ranges(ranges_path)
    model = onnx.load(str(fp32_path))
    groups = quantizable(model)
    if sorted(groups) != sorted(ranges["inputs"]):
        raise ModelError(
            f"The int8 ranges in {ranges_path} were measured on another export's tensors; "
            "re-fit them with `python bench/train_int8.py`."
        )
    weights = {i.name: i for i in model.graph.initializer}
    nodes = list(model.graph.node)
    added = []

    def const(name: str, value) -> str:
        added.append(numpy_helper.from_array(np.asarray(value), name))
        return name

    for x, amax in zip(ranges["inputs"], ranges["amax"]):
        consumers = groups[x]
        w = [numpy_helper.to_array(weights[n.input[1]]) for n in consumers]
        wmax = np.max([np.abs(a).max(axis=1) for a in w], axis=0)
        if wmax.shape != amax.shape:
            raise ModelError(f"The int8 ranges in {ranges_path} do not match the export's shapes; re-fit them.")
        a = ranges["alpha"]
        s = (np.maximum(amax, 1e-5) ** a / np.maximum(wmax, 1e-5) ** (1 - a)).astype(np.float32)
        q = x + "_int8"
        const(q + "_smooth", (1.0 / s).astype(np.float32))
        const(q + "_scale", np.float32(np.max(amax / s) / 127))
        const(q + "_zero", np.uint8(128))
        steps = [
            helper.make_node("Mul", [x, q + "_smooth"], [q + "_smoothed"]),
            helper.make_node("QuantizeLinear", [q + "_smoothed", q + "_scale", q + "_zero"], [q + "_u8"]),
            helper.make_node("DequantizeLinear", [q + "_u8", q + "_scale", q + "_zero"], [q + "_dq"]),
        ]
        for n, wn in zip(consumers, w):
            wn = wn * s[:, None]
            ws = (np.maximum(np.abs(wn).max(axis=0), 1e-12) / 127).astype(np.float32)
            k = n.input[1] + "_int8"
            const(k, np.clip(np.round(wn / ws), -127, 127).astype(np.int8))
            const(k + "_scale", ws)
            const(k + "_zero", np.zeros(len(ws), np.int8))
            steps += [
                helper.make_node("DequantizeLinear", [k, k + "_scale", k + "_zero"], [k + "_dq"], axis=1),
                helper.make_node("MatMul", [q + "_dq", k + "_dq"], list(n.output), name=n.name),
            ]
        first = min(nodes.index(n) for n in consumers)
        for n in consumers:
            model.graph.node.remove(n)
            nodes.remove(n)
        for j, step in enumerate(steps):
            model.graph.node.insert(first + j, step)
            nodes.insert(first + j, step)
    model.graph.initializer.extend(added)
    used = {i for n in model.graph.node for i in n.input}
    kept = [i for i in model.graph.initializer if i.name in used]  # the fp32 weights now quantised are dropped
    del model.graph.initializer[:]
    model.graph.initializer.extend(kept)
    onnx.save(model, str(out_path))
    with open(ranges_path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()
