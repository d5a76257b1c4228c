"""A teacher ensemble: val figures of each member and of their average, and its soft targets cached for distillation.

    python3 -m training ensemble --member runs/facerec96/best.pt --member models/emolens-fer.onnx \
        --out runs/teacher/facerec96+fer.npz

A member is a training checkpoint (runs/<run>/best.pt) or a shipped model (models/<name>.onnx, replayed in torch by
training/distill/teacher.py). Every member sees each image and its mirror (centre crop at its own input size and
normalisation) and the ensemble averages all those probabilities with equal weights: no weight is fitted on val.
The .npz holds `train` and `val` probabilities (N, 7) in the order of the cached data sets, which
`train --teacher-probs` reads as offline distillation targets, plus a JSON `meta` (members, val figures).
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import torch

from ..common import EMOTIONS, predict, resolve_device
from ..data.datasets import load_cached
from ..errors import UsageError
from ..metrics import calibration_report, classification_report
from ..sidecar import sha256
from .teacher import load_member


def build_parser(p: argparse.ArgumentParser | None = None) -> argparse.ArgumentParser:
    p = p or argparse.ArgumentParser(description=__doc__)
    p.add_argument("--member", action="append", required=True, help="runs/<run>/best.pt or models/<name>.onnx (repeat)")
    p.add_argument("--data", default="../shared/datasets/fer2013")
    p.add_argument("--cache-dir", default="runs/cache")
    p.add_argument("--out", default="runs/teacher/ensemble.npz")
    p.add_argument("--no-train", action="store_true", help="val figures only (no train-set targets)")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--device", default="cpu", help="cpu, cuda or auto, as for train")
    return p


class Member:
    """One network with its own crop size and normalisation: uint8 (N, 48, 48) -> flip-averaged probabilities."""

    def __init__(self, path: str, device: torch.device = torch.device("cpu")):
        self.path = path
        self.net, self.mean, self.std, self.size, info = load_member(path)
        self.what = (f"{Path(path).stem} (shipped, sha256 {sha256(Path(path))[:12]})" if info["kind"] == "shipped model"
                     else f"{info['arch']} {path} (epoch {info['epoch']})")
        self.net.to(device).eval()

    def probs(self, x: np.ndarray) -> np.ndarray:
        """As train.py validates: centre crop at the member's size, mean of the face's and its mirror's softmax."""
        return predict(self.net, x, SimpleNamespace(input_size=self.size, tta="hflip"), self.mean, self.std)


def summary(name: str, y: np.ndarray, p: np.ndarray) -> dict:
    report = {**classification_report(y, p.argmax(1)), **calibration_report(y, p)}
    recalls = " ".join(f"{k[:3]}={v['recall']:.2f}" for k, v in report["perClass"].items())
    print(f"{name:<60} val acc {report['accuracy']:.4f}  F1 {report['macroF1']:.3f}  ECE {report['ece']:.3f}  {recalls}",
          flush=True)
    return report


def main(cfg: argparse.Namespace) -> dict:
    torch.set_num_threads(cfg.threads)
    x_val, y_val = load_cached(cfg.data, "val", cfg.cache_dir)
    x_train, _ = (None, None) if cfg.no_train else load_cached(cfg.data, "train", cfg.cache_dir)
    device = resolve_device(cfg.device)
    members = [Member(path, device) for path in cfg.member]
    val, train, meta = [], [], {"members": [], "labels": EMOTIONS}
    for m in members:
        t0 = time.time()
        val.append(m.probs(x_val))
        report = summary(m.what, y_val, val[-1])
        if x_train is not None:
            train.append(m.probs(x_train))
        meta["members"].append({"member": m.what, "path": m.path, "inputSize": m.size, "valAccuracy": report["accuracy"],
                                "valMacroF1": report["macroF1"], "valEce": report["ece"],
                                "seconds": round(time.time() - t0, 1)})
    p_val = np.mean(val, 0)
    report = summary(f"ensemble of {len(members)} (mean of probabilities)", y_val, p_val)
    meta["val"] = report
    out = Path(cfg.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    if not train:
        return meta
    np.savez_compressed(out, train=np.mean(train, 0).astype(np.float32), val=p_val.astype(np.float32),
                        meta=np.array(json.dumps(meta)))
    print(f"wrote {out}: teacher probabilities for {len(x_train)} train and {len(x_val)} val images", flush=True)
    return meta


def load_teacher_probs(path: str, n_train: int) -> np.ndarray:
    """The cached train-set targets of an ensemble file, checked against the train set's size."""
    if not Path(path).exists():
        raise UsageError(f"--teacher-probs {path} not found (write it with: python3 -m training ensemble ...)")
    with np.load(path) as z:
        probs = z["train"]
    if probs.shape != (n_train, len(EMOTIONS)):
        raise UsageError(f"--teacher-probs {path} holds {probs.shape[0]} train targets, the train set has {n_train}")
    return probs
