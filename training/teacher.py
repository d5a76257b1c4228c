"""A shipped emolens model (models/<name>.onnx + .json) as a frozen PyTorch teacher for distillation.

The export folds batch norm into the convolutions, so the teacher is rebuilt from the ONNX graph itself: the first
branch of the graph (the plain image; the second is its mirror) is read node by node — Conv, Relu, MaxPool, the
mean+max global pooling and the Gemm head — and replayed with the same weights. `logits()` returns the head's
output before the softmax, for the image as given (the student's augmented view), in the teacher's own normalisation.

`checkpoint_from_onnx` goes the other way for warm starts: the same weights in a trainable `emolens_vgg_folded`,
as a checkpoint whose lineage is the shipped model's training stages (from its sidecar), for `train --init`:

    python3 -m training from-onnx --model models/emolens-fer.onnx --out runs/fer-onnx/best.pt
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn


class OnnxTeacher(nn.Module):
    def __init__(self, onnx_path: str | Path):
        super().__init__()
        import onnx  # Debian's python3-onnx; only distillation needs it
        from onnx import numpy_helper

        path = Path(onnx_path)
        self.sidecar = json.loads(path.with_suffix(".json").read_text())
        pre = self.sidecar["preprocess"]
        self.mean, self.std = float(pre["mean"][0]), float(pre["std"][0])
        graph = onnx.load(str(path)).graph
        consts = {i.name: numpy_helper.to_array(i) for i in graph.initializer}
        alias = {n.output[0]: n.input[0] for n in graph.node if n.op_type == "Identity"}
        weight = lambda name: torch.from_numpy(np.array(consts[alias.get(name, name)]))  # noqa: E731
        self.ops: list[tuple[str, dict]] = []
        self.params = nn.ParameterList()
        for node in graph.node:
            attrs = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
            if node.op_type == "Conv":
                pad = list(attrs.get("pads", [0, 0, 0, 0]))
                self.params.append(nn.Parameter(weight(node.input[1]), requires_grad=False))
                self.params.append(nn.Parameter(weight(node.input[2]), requires_grad=False))
                self.ops.append(("conv", {"w": len(self.params) - 2, "padding": pad[0], "stride": attrs.get("strides", [1])[0]}))
            elif node.op_type == "Relu":
                self.ops.append(("relu", {}))
            elif node.op_type == "MaxPool":
                self.ops.append(("maxpool", {"k": attrs["kernel_shape"][0]}))
            elif node.op_type == "ReduceMean":
                self.ops.append(("meanmax", {}))
            elif node.op_type == "Gemm":
                self.params.append(nn.Parameter(weight(node.input[1]), requires_grad=False))
                self.params.append(nn.Parameter(weight(node.input[2]), requires_grad=False))
                self.ops.append(("linear", {"w": len(self.params) - 2, "transB": attrs.get("transB", 0)}))
                break  # the first branch ends at its head
            elif node.op_type in ("Identity", "Constant", "Slice", "ReduceMax", "Concat"):
                continue
            else:
                raise ValueError(f"{path.name}: the teacher reader does not know ONNX op {node.op_type}")
        self.eval()

    @torch.no_grad()
    def logits(self, x: torch.Tensor) -> torch.Tensor:
        for op, a in self.ops:
            if op == "conv":
                x = F.conv2d(x, self.params[a["w"]], self.params[a["w"] + 1], stride=a["stride"], padding=a["padding"])
            elif op == "relu":
                x = F.relu(x)
            elif op == "maxpool":
                x = F.max_pool2d(x, a["k"])
            elif op == "meanmax":
                x = torch.cat([x.mean((2, 3)), x.amax((2, 3))], dim=1)
            elif op == "linear":
                w = self.params[a["w"]]
                x = x @ (w.t() if a["transB"] else w) + self.params[a["w"] + 1]
        return x

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.logits(x)


def checkpoint_from_onnx(onnx_path: str | Path) -> dict:
    """A train.py-style checkpoint of a shipped emolens_vgg model, rebuilt as emolens_vgg_folded (same function)."""
    from .models import count_macs, count_parameters, create_model
    teacher = OnnxTeacher(onnx_path)
    sidecar = teacher.sidecar
    model = create_model("emolens_vgg_folded")
    layers = [m for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    ops = [(op, a) for op, a in teacher.ops if op in ("conv", "linear")]
    if len(layers) != len(ops) or sidecar["training"]["arch"] != "emolens_vgg":
        raise ValueError(f"{onnx_path}: not an emolens_vgg export ({len(ops)} conv/linear layers)")
    with torch.no_grad():
        for layer, (op, a) in zip(layers, ops):
            w, b = teacher.params[a["w"]], teacher.params[a["w"] + 1]
            if op == "linear" and not a["transB"]:
                w = w.t()
            if layer.weight.shape != w.shape:
                raise ValueError(f"{onnx_path}: layer shape {tuple(w.shape)} does not fit {tuple(layer.weight.shape)}")
            layer.weight.copy_(w)
            layer.bias.copy_(b)
    size = sidecar["input"]["height"]
    stages = sidecar["training"]["stages"]
    history = sidecar["training"]["history"]
    parent = None
    for st in stages:  # the sidecar's training stages become the checkpoint's lineage, oldest first
        rows = [{**h, "epoch": h["epoch"] - sum(s["epochsRun"] for s in stages[:st["stage"]])}
                for h in history if h.get("stage") == st["stage"]]
        parent = {"checkpoint": st["recipe"].get("out"), "config": st["recipe"], "parent": parent, "history": rows}
    val = sidecar["metrics"]["val"]
    return {"model": model.state_dict(), "arch": "emolens_vgg_folded", "mean": teacher.mean, "std": teacher.std,
            "config": {**parent["config"], "input_size": size}, "parent": parent["parent"],
            "history_from_sidecar": parent["history"], "epoch": len(parent["history"]) - 1, "val": val,
            "parameters": count_parameters(model), "macs": count_macs(model, size),
            "source": {"onnx": str(onnx_path), "sha256": sidecar["sha256"]}}


def build_parser(p=None):
    import argparse
    p = p or argparse.ArgumentParser(description=__doc__)
    p.add_argument("--model", default="models/emolens-fer.onnx", help="a shipped emolens_vgg model (.onnx + .json)")
    p.add_argument("--out", default="runs/fer-onnx/best.pt", help="checkpoint to write; history.json goes beside it")
    return p


def from_onnx_main(cfg) -> dict:
    ckpt = checkpoint_from_onnx(cfg.model)
    out = Path(cfg.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    torch.save(ckpt, out)
    (out.parent / "history.json").write_text(json.dumps(ckpt["history_from_sidecar"], indent=1))
    print(f"wrote {out}: {ckpt['arch']} with the weights of {cfg.model} (val acc {ckpt['val']['accuracy']:.4f}); "
          f"warm-start with: train --arch emolens_vgg_folded --init {out}")
    return ckpt
