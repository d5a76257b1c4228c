"""Saliency in PyTorch, on a shipped model rebuilt by teacher.OnnxTeacher: Grad-CAM by autograd (the reference the
TypeScript Grad-CAM in src/explain/gradcam.ts is tested against) and guided backpropagation as seed 002 does it
(Springenberg et al. 2015: ReLUs pass back only positive gradients, where their input was positive), for reports.

    python3 -m training saliency --model models/emolens-fer.onnx --images a.jpg b.jpg --out runs/saliency
    python3 -m training saliency --crops crops.u8 --json maps.json     # N×48×48 raw bytes in, every map as JSON

Both views of the in-graph TTA are explained: the face and its mirror, the mirror's map flipped back, averaged —
as the exported graph averages them. The score is the class logit of each view (before softmax). Maps are over the
aligned crop (faceCrop.size square); pixels outside the net's centre window are 0. See docs/explain.md.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from ..common import EMOTIONS
from ..distill.teacher import OnnxTeacher


class _GuidedRelu(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x.clamp(min=0)

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return grad.clamp(min=0) * (x > 0).to(grad.dtype)


def replay(teacher, x: torch.Tensor, guided: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """The teacher's forward pass with autograd on: (last ReLU activations A [N,K,H,W], logits [N,7])."""
    acts = None
    for op, a in teacher.ops:
        if op == "conv":
            x = F.conv2d(x, teacher.params[a["w"]], teacher.params[a["w"] + 1], stride=a["stride"], padding=a["padding"])
        elif op == "relu":
            x = _GuidedRelu.apply(x) if guided else F.relu(x)
        elif op == "maxpool":
            x = F.max_pool2d(x, a["k"])
        elif op == "meanmax":
            if not x.requires_grad:  # the teacher's weights are frozen: make A a leaf so Grad-CAM can ask for ∂/∂A
                x = x.detach().requires_grad_(True)
            acts = x
            x = torch.cat([x.mean((2, 3)), x.amax((2, 3))], dim=1)
        elif op == "linear":
            w = teacher.params[a["w"]]
            x = x @ (w.t() if a["transB"] else w) + teacher.params[a["w"] + 1]
    return acts, x


def net_input(teacher, crops: np.ndarray) -> torch.Tensor:
    """uint8 crops [N, S, S] → the normalised centre window [N, 1, C, C] the ONNX graph takes."""
    pre = teacher.sidecar["preprocess"]
    size, crop = pre["faceCrop"]["size"], pre["centerCrop"]
    off = (size - crop) // 2
    x = torch.from_numpy(crops.astype(np.float32))[:, None, off:off + crop, off:off + crop]
    return (x * pre["scale"] - teacher.mean) / teacher.std


def upsample_cells(coarse: np.ndarray, stride: int, size: int) -> np.ndarray:
    """The same bilinear rule as src/explain/gradcam.ts: cell i centred on pixel (i + 0.5)·stride − 0.5, edges held."""
    h, w = coarse.shape

    def axis(cells):
        u = np.clip((np.arange(size) + 0.5) / stride - 0.5, 0, cells - 1)
        i0 = np.floor(u).astype(int)
        return i0, np.minimum(i0 + 1, cells - 1), u - i0

    y0, y1, fy = axis(h)
    x0, x1, fx = axis(w)
    top = coarse[y0][:, x0] * (1 - fx) + coarse[y0][:, x1] * fx
    bottom = coarse[y1][:, x0] * (1 - fx) + coarse[y1][:, x1] * fx
    return top * (1 - fy[:, None]) + bottom * fy[:, None]


def to_crop(maps: np.ndarray, teacher) -> np.ndarray:
    """[N, C, C] maps over the net window → [N, S, S] over the crop, ReLU'd and divided by each map's maximum."""
    pre = teacher.sidecar["preprocess"]
    size, crop = pre["faceCrop"]["size"], pre["centerCrop"]
    off = (size - crop) // 2
    out = np.zeros((len(maps), size, size), np.float64)
    out[:, off:off + crop, off:off + crop] = np.maximum(maps, 0)
    peak = out.reshape(len(out), -1).max(1)
    return out / np.where(peak > 0, peak, 1)[:, None, None]


def grad_cam(teacher, crops: np.ndarray, columns: list[int], stride: int = 8) -> tuple[np.ndarray, np.ndarray]:
    """Grad-CAM of the class logit by autograd: (maps over the crop [N,S,S], coarse maps per view [N,2,H,W])."""
    x = net_input(teacher, crops)
    crop = x.shape[-1]
    views = []
    for flipped in (False, True):
        v = torch.flip(x, dims=[3]) if flipped else x
        acts, logits = replay(teacher, v)
        score = logits[torch.arange(len(x)), torch.tensor(columns)].sum()
        (grad,) = torch.autograd.grad(score, acts)
        alpha = grad.mean((2, 3), keepdim=True)
        views.append((alpha * acts).sum(1).detach().double().numpy())
    coarse = np.stack(views, 1)
    maps = np.zeros((len(x), crop, crop))
    for i in range(len(x)):
        maps[i] = (upsample_cells(coarse[i, 0], stride, crop) + upsample_cells(coarse[i, 1], stride, crop)[:, ::-1]) / 2
    return to_crop(maps, teacher), coarse


def guided_backprop(teacher, crops: np.ndarray, columns: list[int]) -> np.ndarray:
    """Guided backpropagation of the class logit to the input pixels: |gradient|, both views, over the crop."""
    x = net_input(teacher, crops)
    total = torch.zeros_like(x)
    for flipped in (False, True):
        v = (torch.flip(x, dims=[3]) if flipped else x).clone().requires_grad_(True)
        _, logits = replay(teacher, v, guided=True)
        (grad,) = torch.autograd.grad(logits[torch.arange(len(x)), torch.tensor(columns)].sum(), v)
        total += torch.flip(grad, dims=[3]) if flipped else grad
    return to_crop(total[:, 0].abs().double().numpy(), teacher)


def build_parser(p: argparse.ArgumentParser | None = None) -> argparse.ArgumentParser:
    p = p or argparse.ArgumentParser(description=__doc__)
    p.add_argument("--model", default="models/emolens-fer.onnx")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--images", nargs="+", help="face crops (e.g. FER2013 JPEGs), resized to the model's crop size")
    src.add_argument("--crops", help="raw uint8 file of N crops, each faceCrop.size² bytes")
    p.add_argument("--emotion", choices=EMOTIONS, default=None, help="explain this emotion (default: each face's top one)")
    p.add_argument("--out", default=None, help="write <name>-gradcam.png and <name>-guided.png per face here")
    p.add_argument("--json", default=None, help="write every map (Grad-CAM, its coarse maps, guided backprop) here")
    return p


def main(cfg: argparse.Namespace) -> dict:
    teacher = OnnxTeacher(cfg.model)
    size = teacher.sidecar["preprocess"]["faceCrop"]["size"]
    labels = teacher.sidecar["labels"]
    if cfg.crops:
        raw = np.fromfile(cfg.crops, dtype=np.uint8)
        crops, names = raw.reshape(-1, size, size), [f"crop{i + 1}" for i in range(raw.size // (size * size))]
    else:
        from PIL import Image
        crops = np.stack([np.asarray(Image.open(f).convert("L").resize((size, size), Image.BILINEAR)) for f in cfg.images])
        names = [Path(f).stem for f in cfg.images]
    with torch.no_grad():
        x = net_input(teacher, crops)
        probs = (F.softmax(teacher.logits(x), 1) + F.softmax(teacher.logits(torch.flip(x, dims=[3])), 1)) / 2
    columns = [labels.index(cfg.emotion) if cfg.emotion else int(i) for i in probs.argmax(1)]
    stride = teacher.sidecar.get("explain", {}).get("gradcam", {}).get("stride", 8)
    cams, coarse = grad_cam(teacher, crops, columns, stride)
    guided = guided_backprop(teacher, crops, columns)
    result = {"labels": labels, "faces": [
        {"name": n, "emotion": labels[c], "probabilities": [float(v) for v in p], "gradcam": cam.ravel().tolist(),
         "coarse": co.tolist(), "guided": g.ravel().tolist()}
        for n, c, p, cam, co, g in zip(names, columns, probs.numpy(), cams, coarse, guided)]}
    if cfg.json:
        Path(cfg.json).parent.mkdir(parents=True, exist_ok=True)
        Path(cfg.json).write_text(json.dumps(result))
    if cfg.out:
        from PIL import Image
        out = Path(cfg.out)
        out.mkdir(parents=True, exist_ok=True)
        for n, crop, cam, g in zip(names, crops, cams, guided):
            for kind, m in (("gradcam", cam), ("guided", g)):
                heat = np.stack([m, m ** 2, 1 - m], -1) * 255  # red-hot where salient, blue where not
                rgb = 0.5 * crop[..., None] + 0.5 * heat
                Image.fromarray(rgb.clip(0, 255).astype(np.uint8)).resize((size * 4, size * 4), Image.NEAREST).save(out / f"{n}-{kind}.png")
        print(f"wrote {2 * len(names)} PNGs to {out}")
    return result


if __name__ == "__main__":
    main(build_parser().parse_args())
