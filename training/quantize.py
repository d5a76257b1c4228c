"""Weight-only int8 storage for an exported model: 4x smaller .onnx files, float32 arithmetic unchanged.

Every Conv and Gemm weight initializer with at least `min_elements` values becomes an int8 tensor with one float32
scale per output channel (symmetric, zero point 0) and a DequantizeLinear node (opset 13, per-axis) that restores
float32 weights inside the graph, so ONNX Runtime (node and web) computes exactly as before on weights that moved
by at most half a quantisation step. Biases and small tensors stay float32. The caller measures what it costs
(export.py compares the quantised graph's val probabilities with PyTorch's and records both in the sidecar).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np


def quantize_weights(onnx_path: Path, min_elements: int = 1024) -> dict:
    """Rewrite onnx_path in place; returns what changed (tensors, bytes before/after)."""
    import onnx
    from onnx import helper, numpy_helper

    model = onnx.load(str(onnx_path))
    graph = model.graph
    inits = {i.name: i for i in graph.initializer}
    weight_inputs = {n.input[1] for n in graph.node if n.op_type in ("Conv", "Gemm") and len(n.input) > 1}
    # Gemm's weight is (out, in) with transB=1 as torch exports it; a Conv's is (out, in, kh, kw): axis 0 both ways.
    for n in graph.node:
        if n.op_type == "Gemm" and n.input[1] in inits:
            trans_b = next((a.i for a in n.attribute if a.name == "transB"), 0)
            if not trans_b:
                weight_inputs.discard(n.input[1])  # (in, out) layout: keep float rather than quantise the wrong axis
    before = sum(len(i.raw_data) or np.prod(i.dims) * 4 for i in graph.initializer)
    done = 0
    new_nodes = []
    for name in sorted(weight_inputs):
        init = inits.get(name)
        if init is None:
            continue
        w = numpy_helper.to_array(init).astype(np.float32)
        if w.size < min_elements:
            continue
        flat = np.abs(w.reshape(w.shape[0], -1)).max(1)
        scale = np.where(flat > 0, flat / 127.0, 1.0).astype(np.float32)
        q = np.clip(np.round(w / scale.reshape(-1, *[1] * (w.ndim - 1))), -127, 127).astype(np.int8)
        graph.initializer.remove(init)
        graph.initializer.extend([numpy_helper.from_array(q, f"{name}_int8"),
                                  numpy_helper.from_array(scale, f"{name}_scale"),
                                  numpy_helper.from_array(np.zeros(w.shape[0], np.int8), f"{name}_zero")])
        new_nodes.append(helper.make_node("DequantizeLinear", [f"{name}_int8", f"{name}_scale", f"{name}_zero"], [name],
                                          name=f"{name}_dequantize", axis=0))
        done += 1
    # DequantizeLinear outputs replace initializers, so they must come before every consumer: put them first.
    nodes = new_nodes + list(graph.node)
    del graph.node[:]
    graph.node.extend(nodes)
    if all(o.version < 13 for o in model.opset_import if o.domain in ("", "ai.onnx")):
        raise ValueError(f"{onnx_path}: per-channel DequantizeLinear needs opset 13 or later")
    onnx.checker.check_model(model)
    onnx.save(model, str(onnx_path))
    after = sum(len(i.raw_data) or np.prod(i.dims) * 4 for i in graph.initializer)
    return {"tensors": done, "weightBytesBefore": int(before), "weightBytesAfter": int(after),
            "scheme": "int8 per output channel, symmetric, DequantizeLinear in the graph (float32 compute)"}
