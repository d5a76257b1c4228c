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

import argparse
import json
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..common import center_crop, count_macs, count_parameters, load_checkpoint, normalize
from ..data.datasets import load_cached
from ..errors import UsageError
from ..models.registry import create_model
from ..sidecar import sha256


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


def load_member(path: str | Path) -> tuple[nn.Module, float, float, int, dict]:
    """A trained net to teach or average with: a shipped model (.onnx, replayed by OnnxTeacher) or a training
    checkpoint (.pt). Returns (net, mean, std, input size, info), info naming it: name, kind, arch, val accuracy and,
    for a checkpoint, its epoch and seed."""
    path = Path(path)
    if path.suffix == ".onnx":
        net = OnnxTeacher(path)
        info = {"name": path.stem, "kind": "shipped model", "arch": net.sidecar["training"]["arch"],
                "valAccuracy": net.sidecar.get("metrics", {}).get("val", {}).get("accuracy")}
        return net, net.mean, net.std, net.sidecar["input"]["height"], info
    ckpt = load_checkpoint(path)
    net = create_model(ckpt["arch"])
    net.load_state_dict(ckpt["model"])
    info = {"name": path.parent.name, "kind": "checkpoint", "arch": ckpt["arch"], "epoch": ckpt.get("epoch", -1) + 1,
            "seed": ckpt["config"].get("seed"), "valAccuracy": ckpt.get("val", {}).get("accuracy"),
            **({"valFerplusAccuracy": ckpt["val_ferplus"]["majority"]["accuracy"]} if ckpt.get("val_ferplus") else {})}
    return net, float(ckpt["mean"]), float(ckpt["std"]), ckpt["config"]["input_size"], info


class Teachers(nn.Module):
    """The teacher of online distillation (train --teacher A[,B,...]): shipped models (.onnx, replayed above) and/or
    training checkpoints (.pt), each in its own normalisation, frozen and always in eval mode. forward takes the
    student's view as 0..1 pixels and returns the log of the members' mean probability: with one member that is its
    log-softmax, which gives the same softened distribution as its logits at any temperature."""

    def __init__(self, spec: str, input_size: int):
        super().__init__()
        nets, self.norm, self.members = [], [], []
        for path in [p for p in spec.split(",") if p]:
            if not Path(path).exists():
                raise UsageError(f"--teacher {path} not found")
            net, mean, std, size, info = load_member(path)
            if size != input_size:
                raise UsageError(f"--teacher {path} reads {size}px crops, not --input-size {input_size}")
            for p in net.parameters():
                p.requires_grad_(False)
            nets.append(net.eval())
            self.norm.append((mean, std))
            self.members.append({**info, "path": path, "sha256": sha256(Path(path))})
        if not nets:
            raise UsageError("--teacher: no model given")
        self.nets = nn.ModuleList(nets)

    def train(self, mode: bool = True):  # noqa: ARG002 - a teacher's batch norm and dropout stay in eval mode
        return super().train(False)

    @torch.no_grad()
    def forward(self, x01: torch.Tensor) -> torch.Tensor:
        logits = [net((x01 - m) / s) for net, (m, s) in zip(self.nets, self.norm)]
        if len(logits) == 1:
            return F.log_softmax(logits[0], 1)
        probs = torch.stack([F.softmax(z, 1) for z in logits]).mean(0)
        return torch.log(probs.clamp_min(1e-12))


FOLDED = {"emolens_vgg": "emolens_vgg_folded", "emolens_vgg_tiny": "emolens_vgg_tiny_folded"}


@torch.no_grad()
def restore_batch_norm(folded: nn.Module, model: nn.Module, x: torch.Tensor) -> None:
    """Copy a folded net's weights into its batch-norm twin so that both compute the same function.

    Each conv's bias-free output is measured on `x` (normalised images, a few thousand are plenty); its BN then gets
    those statistics as running mean and variance, gamma = sqrt(var + eps) and beta = mean + the folded bias. In eval
    mode BN(conv(x)) = conv(x) - mean + mean + bias, exactly the folded layer; in training mode the batch statistics
    are close to these, so a warm restart starts where the shipped model is instead of from a renormalised net."""
    convs = [m for m in folded.modules() if isinstance(m, nn.Conv2d)]
    stats: list[tuple[torch.Tensor, torch.Tensor]] = []

    def hook(m, _inp, out):
        raw = out - m.bias.view(1, -1, 1, 1)
        stats.append((raw.mean((0, 2, 3)), raw.var((0, 2, 3), unbiased=False)))

    hooks = [c.register_forward_hook(hook) for c in convs]
    folded.eval()
    folded(x)
    for h in hooks:
        h.remove()
    pairs = [(m, model.features[i + 1]) for i, m in enumerate(model.features) if isinstance(m, nn.Conv2d)]
    for (conv, bn), src, (mean, var) in zip(pairs, convs, stats):
        conv.weight.copy_(src.weight)
        bn.running_mean.copy_(mean)
        bn.running_var.copy_(var)
        bn.weight.copy_(torch.sqrt(var + bn.eps))
        bn.bias.copy_(mean + src.bias)
    model.head[-1].weight.copy_(folded.head[-1].weight)
    model.head[-1].bias.copy_(folded.head[-1].bias)


def checkpoint_from_onnx(onnx_path: str | Path, batch_norm: bool = False, calibration: np.ndarray | None = None) -> dict:
    """A train.py-style checkpoint of a shipped emolens_vgg(_tiny) model: rebuilt folded (same function, no batch
    norm), or with `batch_norm` in the original architecture, its BN layers restored from `calibration` images
    (uint8, N x 48 x 48) by restore_batch_norm."""
    teacher = OnnxTeacher(onnx_path)
    sidecar = teacher.sidecar
    arch = sidecar["training"]["arch"]
    if arch not in FOLDED:
        raise ValueError(f"{onnx_path}: a {arch} export; from-onnx reads {', '.join(FOLDED)}")
    model = create_model(FOLDED[arch])
    layers = [m for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    ops = [(op, a) for op, a in teacher.ops if op in ("conv", "linear")]
    if len(layers) != len(ops):
        raise ValueError(f"{onnx_path}: not an {arch} export ({len(ops)} conv/linear layers)")
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
    if batch_norm:
        if calibration is None:
            raise ValueError("restoring batch norm needs calibration images")
        x = center_crop(normalize(torch.from_numpy(calibration), teacher.mean, teacher.std), size)
        folded, model = model, create_model(arch)
        restore_batch_norm(folded, model, x)
    stages = sidecar["training"]["stages"]
    history = sidecar["training"]["history"]
    parent = None
    for st in stages:  # the sidecar's training stages become the checkpoint's lineage, oldest first
        rows = [{**h, "epoch": h["epoch"] - sum(s["epochsRun"] for s in stages[:st["stage"]])}
                for h in history if h.get("stage") == st["stage"]]
        parent = {"checkpoint": st["recipe"].get("out"), "config": st["recipe"], "parent": parent, "history": rows}
    val = sidecar["metrics"]["val"]
    out_arch = arch if batch_norm else FOLDED[arch]
    return {"model": model.state_dict(), "arch": out_arch, "mean": teacher.mean, "std": teacher.std,
            "config": {**parent["config"], "input_size": size}, "parent": parent["parent"],
            "history_from_sidecar": parent["history"], "epoch": len(parent["history"]) - 1, "val": val,
            "parameters": count_parameters(model), "macs": count_macs(model, size),
            "source": {"onnx": str(onnx_path), "sha256": sidecar["sha256"]}}


def build_parser(p=None):
    p = p or argparse.ArgumentParser(description=__doc__)
    p.add_argument("--model", default="models/emolens-fer.onnx", help="a shipped emolens_vgg or emolens_vgg_tiny model (.onnx + .json)")
    p.add_argument("--batch-norm", action="store_true", help="rebuild the original architecture, batch norm restored "
                   "from the statistics of --calibration train images, instead of the folded one")
    p.add_argument("--calibration", type=int, default=4096, help="train images measured for --batch-norm")
    p.add_argument("--data", default="../shared/datasets/fer2013", help="dataset for --batch-norm's calibration")
    p.add_argument("--cache-dir", default="runs/cache")
    p.add_argument("--out", default="runs/fer-onnx/best.pt", help="checkpoint to write; history.json goes beside it")
    return p


def from_onnx_main(cfg) -> dict:
    calibration = None
    if cfg.batch_norm:
        x_train, _ = load_cached(cfg.data, "train", cfg.cache_dir)
        calibration = x_train[np.random.default_rng(0).permutation(len(x_train))[:cfg.calibration]]
    ckpt = checkpoint_from_onnx(cfg.model, cfg.batch_norm, calibration)
    out = Path(cfg.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    torch.save(ckpt, out)
    (out.parent / "history.json").write_text(json.dumps(ckpt["history_from_sidecar"], indent=1))
    print(f"wrote {out}: {ckpt['arch']} with the weights of {cfg.model} (val acc {ckpt['val']['accuracy']:.4f}); "
          f"warm-start with: train --arch {ckpt['arch']} --init {out}")
    return ckpt
