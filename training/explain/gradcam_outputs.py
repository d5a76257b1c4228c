"""Expose what exact Grad-CAM needs from an exported emolens model: the last convolutional activations of every branch
as extra ONNX outputs, and the head weights in the sidecar (its `explain.gradcam` block, contract emolens-model/2).

    python3 -m training gradcam-outputs --model models/emolens-fer.onnx

ONNX Runtime gives no gradients, but these models end in  Relu → (ReduceMean ‖ ReduceMax over H×W) → Concat → Gemm,
so the gradient of a class logit with respect to the activations A is known in closed form: W[c,k]/(H·W) on every
cell for the mean half plus W[c,K+k] at the channel's argmax for the max half. Grad-CAM's channel weight (the spatial
mean of that gradient) is therefore (W[c,k] + W[c,K+k]) / (H·W) whatever the argmax — src/explain/gradcam.ts computes
it from the sidecar's head. Branches fed by the mirrored input (the in-graph hflip TTA) are marked `hflip: true`.

The surgery only adds Identity nodes and graph outputs; the probabilities are computed by the same nodes as before
(check with `emolens eval`). Rerunning it on a model that already has the outputs is a no-op apart from the sidecar.
Models whose graph does not end in that pattern (seed002's flatten head, mini-Xception's conv head) are left alone:
`emolens explain` falls back to the occlusion map for them.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from ..sidecar import sha256, write_sidecar

FEATURE_PREFIX = "gradcam_features_"


def build_parser(p: argparse.ArgumentParser | None = None) -> argparse.ArgumentParser:
    p = p or argparse.ArgumentParser(description=__doc__)
    p.add_argument("--model", default="models/emolens-fer.onnx", help=".onnx file with its .json sidecar beside it")
    p.add_argument("--out", default=None, help="write the result here (.onnx; its .json beside it); default: in place")
    p.add_argument("--randomize", type=int, default=None, metavar="SEED",
                   help="replace every Conv and Gemm weight with Gaussian noise of the same per-tensor std "
                        "(the model-randomisation sanity check of Adebayo et al. 2018); for tests, never shipped")
    return p


def _attrs(node) -> dict:
    import onnx
    return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}


def find_branches(graph) -> list[dict]:
    """Every Relu → {ReduceMean, ReduceMax} → Concat → Gemm branch: its activation tensor, head and input view."""
    from onnx import numpy_helper
    consumers: dict[str, list] = {}
    producer = {}
    for node in graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node)
        for name in node.output:
            producer[name] = node
    consts = {i.name: i for i in graph.initializer}
    input_name = graph.input[0].name
    branches = []
    for node in graph.node:
        if node.op_type != "Relu":
            continue
        # (an Identity of ours, from an earlier run of this script, is not part of the pattern)
        users = [u for u in consumers.get(node.output[0], []) if not (u.op_type == "Identity" and u.output[0].startswith(FEATURE_PREFIX))]
        kinds = sorted(u.op_type for u in users)
        if kinds != ["ReduceMax", "ReduceMean"] or any(_attrs(u).get("axes") != [2, 3] or _attrs(u).get("keepdims", 1) != 0 for u in users):
            continue
        mean = next(u for u in users if u.op_type == "ReduceMean")
        mx = next(u for u in users if u.op_type == "ReduceMax")
        concat = [c for c in consumers.get(mean.output[0], []) if c.op_type == "Concat"]
        if len(concat) != 1 or list(concat[0].input) != [mean.output[0], mx.output[0]]:
            continue
        gemm = [g for g in consumers.get(concat[0].output[0], []) if g.op_type == "Gemm"]
        if len(gemm) != 1:
            continue
        g = gemm[0]
        a = _attrs(g)
        if a.get("transA", 0) or a.get("alpha", 1.0) != 1.0 or a.get("beta", 1.0) != 1.0 or g.input[1] not in consts or g.input[2] not in consts:
            continue
        w = numpy_helper.to_array(consts[g.input[1]])
        w = w if a.get("transB", 0) else w.T                     # → [classes, 2K]
        b = numpy_helper.to_array(consts[g.input[2]])
        # Walk up to the branch's input: the graph input itself, or a Slice of it with step -1 on W (the mirror),
        # multiplying the strides of the pools and convolutions on the way (input pixels per activation cell).
        name, hflip, stride = node.input[0], None, 1
        while hflip is None:
            if name == input_name:
                hflip = False
                break
            p = producer.get(name)
            if p is None:
                raise ValueError(f"cannot trace {node.output[0]} back to the graph input")
            if p.op_type in ("MaxPool", "AveragePool", "Conv"):
                strides = _attrs(p).get("strides", [1, 1])
                if strides[0] != strides[-1]:
                    raise ValueError(f"{p.name}: unequal strides {strides}")
                stride *= strides[0]
            if p.op_type == "Slice" and p.input[0] == input_name:
                steps = _const_values(graph, p.input[4]) if len(p.input) > 4 else [1]
                axes = _const_values(graph, p.input[3]) if len(p.input) > 3 else [0]
                hflip = any(ax in (3, -1) and st < 0 for ax, st in zip(axes, steps))
                break
            name = p.input[0]
        branches.append({"activation": node.output[0], "weight": w, "bias": b, "hflip": hflip, "head": g.input[1],
                         "stride": stride})
    return branches


def _const_values(graph, name: str) -> list[int]:
    from onnx import numpy_helper
    for i in graph.initializer:
        if i.name == name:
            return [int(v) for v in numpy_helper.to_array(i).ravel()]
    for n in graph.node:
        if n.op_type == "Constant" and n.output[0] == name:
            return [int(v) for v in numpy_helper.to_array(_attrs(n)["value"]).ravel()]
    raise ValueError(f"{name} is not a constant")


def add_gradcam_outputs(model) -> dict | None:
    """Add the branch activations as outputs (in place) and return the sidecar's `explain.gradcam` block, or None
    when the graph has no branch of the supported shape."""
    import onnx
    graph = model.graph
    branches = find_branches(graph)
    if not branches:
        return None
    existing = {o.name for o in graph.output}
    heads: list[str] = []
    if len({br["stride"] for br in branches}) != 1:
        return None
    block = {"pooling": "mean+max", "score": "logit", "stride": branches[0]["stride"], "branches": [], "heads": []}
    for i, br in enumerate(branches):
        out_name = f"{FEATURE_PREFIX}{i}"
        if out_name not in existing:
            graph.node.append(onnx.helper.make_node("Identity", [br["activation"]], [out_name], name=f"GradCam_Identity_{i}"))
            graph.output.append(onnx.helper.make_tensor_value_info(out_name, onnx.TensorProto.FLOAT, ["batch", None, None, None]))
        if br["head"] not in heads:
            heads.append(br["head"])
            block["heads"].append({"weight": float32_json(br["weight"]), "bias": float32_json(br["bias"])})
        block["branches"].append({"output": out_name, "hflip": bool(br["hflip"]), "head": heads.index(br["head"])})
    return block


def float32_json(array) -> dict:
    """A float32 tensor as the sidecar stores it: shape + little-endian bytes in base64 (exact, and 1/8 the size of
    the same numbers as JSON text)."""
    import base64
    import numpy as np
    a = np.ascontiguousarray(array, dtype="<f4")
    return {"dtype": "float32", "shape": list(a.shape), "base64": base64.b64encode(a.tobytes()).decode("ascii")}


def randomize_weights(model, seed: int) -> None:
    import numpy as np
    from onnx import numpy_helper
    rng = np.random.default_rng(seed)
    weights = {n.input[1] for n in model.graph.node if n.op_type in ("Conv", "Gemm")}
    alias = {n.output[0]: n.input[0] for n in model.graph.node if n.op_type == "Identity"}
    weights |= {alias[w] for w in list(weights) if w in alias}
    for init in model.graph.initializer:
        if init.name in weights:
            arr = numpy_helper.to_array(init)
            noise = rng.normal(0, float(arr.std()) or 1.0, arr.shape).astype(arr.dtype)
            init.CopyFrom(numpy_helper.from_array(noise, init.name))


def main(cfg: argparse.Namespace) -> dict | None:
    import onnx
    src = Path(cfg.model)
    dst = Path(cfg.out) if cfg.out else src
    sidecar = json.loads(src.with_suffix(".json").read_text())
    model = onnx.load(str(src))
    if cfg.randomize is not None:
        randomize_weights(model, cfg.randomize)
        sidecar["name"] = f"{sidecar['name']}-randomized"
        sidecar["metrics"] = {}
        sidecar["provenance"] = f"{src.name} with every Conv/Gemm weight replaced by noise (seed {cfg.randomize}): a sanity-check fixture"
    block = add_gradcam_outputs(model)
    onnx.checker.check_model(model)
    dst.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(dst))
    if block is None:
        print(f"{dst}: no Relu → mean+max → Gemm branch found; left without Grad-CAM outputs")
        sidecar.pop("explain", None)
    else:
        sidecar["format"] = "emolens-model/2"
        sidecar.pop("explain", None)
        # explain goes right after tta, before the long metrics and training blocks
        items = list(sidecar.items())
        at = next((i + 1 for i, (k, _) in enumerate(items) if k == "tta"), len(items))
        sidecar = dict(items[:at] + [("explain", {"gradcam": block})] + items[at:])
        print(f"{dst}: {len(block['branches'])} Grad-CAM branch output(s) "
              f"({', '.join(b['output'] + (' (mirror)' if b['hflip'] else '') for b in block['branches'])})")
    sidecar["sha256"] = sha256(dst)
    write_sidecar(dst, sidecar)
    return block


if __name__ == "__main__":
    main(build_parser().parse_args())
