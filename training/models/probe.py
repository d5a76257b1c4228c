"""Linear and MLP probes on frozen pretrained face features: how much expression do they already carry?

    nice -n 15 /usr/bin/python3 -m training.models.probe --model faceres --size 112 --train-limit 8000

Owns: caching frozen embeddings of FER2013 faces (runs/pretrained/features-<model>-<size>-<split>.npy, with the
labels and the chosen train indices beside them) and training two small heads on them. It reads the data
through training/data/datasets.py and the networks through training/models/pretrained.py; it changes neither.
Feature extraction is the costly part on 2 cores: the first 500 faces are timed and the rate printed, so
the full run's cost is known before it is paid. Prints one JSON line per head.
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from ..common import EMOTIONS
from ..data.datasets import load_cached
from ..metrics import classification_report
from .pretrained import ROOT, PretrainedFace, gray_to_input

BATCH = 50
TIMED = 500


def stratified_subset(y: np.ndarray, limit: int, seed: int = 0) -> np.ndarray:
    """`limit` indices with the class proportions of y (sorted, reproducible)."""
    if limit <= 0 or limit >= len(y):
        return np.arange(len(y))
    rng = np.random.default_rng(seed)
    picks = []
    for c in range(len(EMOTIONS)):
        idx = np.flatnonzero(y == c)
        picks.append(rng.choice(idx, max(1, round(limit * len(idx) / len(y))), replace=False))
    return np.sort(np.concatenate(picks))


def extract(net: PretrainedFace, faces: np.ndarray, size: int, label: str) -> np.ndarray:
    out, started = [], time.perf_counter()
    with torch.no_grad():
        for start in range(0, len(faces), BATCH):
            emb, _ = net(gray_to_input(faces[start:start + BATCH], size))
            out.append(emb.reshape(len(emb), -1).numpy().astype(np.float32))
            done = start + BATCH
            if done == TIMED or done >= len(faces):
                rate = min(done, len(faces)) / (time.perf_counter() - started)
                print(f"{label}: {min(done, len(faces))} faces, {rate:.1f} faces/s, "
                      f"{len(faces) / rate / 60:.1f} min for all {len(faces)}", flush=True)
    return np.concatenate(out)


def cached_features(args, net, split, x, y, idx):
    stem = Path(args.out) / f"features-{args.model}-{args.size}-{split}"
    if stem.with_suffix(".npy").exists():
        cached_idx = np.load(f"{stem}-idx.npy")
        if np.array_equal(cached_idx, idx):
            return np.load(stem.with_suffix(".npy"))
    feats = extract(net, x[idx], args.size, f"{args.model}@{args.size} {split}")
    stem.parent.mkdir(parents=True, exist_ok=True)
    np.save(stem.with_suffix(".npy"), feats)
    np.save(f"{stem}-idx.npy", idx)
    np.save(f"{stem}-labels.npy", y[idx])
    return feats


def train_head(kind, xtr, ytr, xva, seed=0, epochs=60, lr=1e-3, weight_decay=1e-4):
    """Adam on standardised features, class-balanced cross-entropy; returns val predictions."""
    torch.manual_seed(seed)
    d, k = xtr.shape[1], len(EMOTIONS)
    if kind == "linear":
        head = torch.nn.Linear(d, k)
    else:
        head = torch.nn.Sequential(torch.nn.Dropout(0.2), torch.nn.Linear(d, 512), torch.nn.ReLU(),
                                   torch.nn.Dropout(0.5), torch.nn.Linear(512, k))
    counts = np.bincount(ytr, minlength=k)
    # sqrt-balanced weights: disgust (1.5 % of train) still gets seen without swamping the rest
    weight = torch.tensor((counts.sum() / np.maximum(counts, 1) / k) ** 0.5, dtype=torch.float32)
    opt = torch.optim.AdamW(head.parameters(), lr=lr, weight_decay=weight_decay)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, epochs)
    xt, yt = torch.from_numpy(xtr), torch.from_numpy(ytr)
    for _ in range(epochs):
        head.train()
        for b in torch.randperm(len(xt)).split(256):
            loss = F.cross_entropy(head(xt[b]), yt[b], weight=weight)
            opt.zero_grad()
            loss.backward()
            opt.step()
        sched.step()
    head.eval()
    with torch.no_grad():
        return head(torch.from_numpy(xva)).argmax(1).numpy()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="faceres")
    parser.add_argument("--size", type=int, default=0, help="input size (default: the net's own)")
    parser.add_argument("--data", default=str(ROOT.parent / "shared" / "datasets" / "fer2013"))
    parser.add_argument("--train-limit", type=int, default=0, help="stratified train subset (0 = all)")
    parser.add_argument("--out", default=str(ROOT / "runs" / "pretrained"))
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)

    net = PretrainedFace(args.model, input_size=args.size or None).eval()
    args.size = net.input_size
    xtr, ytr = load_cached(args.data, "train", ROOT / "runs" / "cache")
    xva, yva = load_cached(args.data, "val", ROOT / "runs" / "cache")
    tr_idx = stratified_subset(ytr, args.train_limit)
    started = time.perf_counter()
    ftr = cached_features(args, net, "train", xtr, ytr, tr_idx)
    fva = cached_features(args, net, "val", xva, yva, np.arange(len(yva)))
    extract_s = time.perf_counter() - started
    mean, std = ftr.mean(0), ftr.std(0) + 1e-6
    ftr, fva = (ftr - mean) / std, (fva - mean) / std
    for kind in ("linear", "mlp"):
        t0 = time.perf_counter()
        pred = train_head(kind, ftr, ytr[tr_idx], fva)
        rep = classification_report(yva, pred)
        print(json.dumps({"model": args.model, "size": args.size, "macs": net.macs, "head": kind,
                          "train": int(len(tr_idx)), "val": int(len(yva)), "featureDim": int(ftr.shape[1]),
                          "accuracy": round(rep["accuracy"], 4), "macroF1": round(rep["macroF1"], 4),
                          "recall": {c: round(v["recall"], 3) for c, v in rep["perClass"].items()},
                          "extractS": round(extract_s, 1), "headS": round(time.perf_counter() - t0, 1)}), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
