"""FERC's classifier on the expressional vector (EV), trained on FER2013 train, measured on val, fused with the CNN.

    node --import tsx scripts/ferc-features.ts            # runs/ferc/{train,val}.f32 + .json (68 points, EV, CNN probs)
    bash training/py.sh -m training.ferc [--features runs/ferc] [--out runs/ferc/report.json] [--export models/ferc-ev.onnx]

Reads the feature cache, standardises the 24 EV values with train's mean and std, and trains (all knobs below):
  - a multinomial logistic regression on the EV (the linear baseline), and
  - an MLP 24 -> 128 -> 128 -> 7 (ReLU, dropout), FERC's "EV classifier" stand-in (the paper names a perceptron).
Both get a fixed number of epochs, chosen before val was looked at; val is used for reporting only. Figures on
FER2013 val and their reading: docs/ferc.md.

Fusion with emolens-fer: log p = log p_cnn + w log p_ev, renormalised. w is set two ways that never see val:
  - w = 1 (the product rule, fixed in advance), and
  - w chosen by 5-fold cross-validation on train (out-of-fold EV probabilities; the CNN's own train probabilities
    are over-confident, since it was trained on these images, so this choice leans towards small w).
For information the script also prints the val-best w — that figure is chosen on val and is optimistic.
It also reports the CNN on val crops whose background was removed (outside the jaw + brows outline), filled with
the face's mean gray or black (FERC's background removal, applied to a CNN trained without it).

Writes a JSON report (every figure, the recipe, timings); with --export, the MLP as ONNX ([N,24] raw EV in,
standardisation inside the graph, probabilities [N,7] out) + sidecar. Needs torch and numpy only.
"""
from __future__ import annotations

import argparse
import json
import os
import time

import numpy as np
import torch
from torch import nn

from .common import EMOTIONS
from .metrics import classification_report
from .sidecar import sha256, write_sidecar

SEED = 0
EPOCHS_MLP = 60
EPOCHS_LOGREG = 60
BATCH = 1024
LR = 3e-3
WEIGHT_DECAY = 1e-4
HIDDEN = 128
DROPOUT = 0.2
FOLDS = 5
FUSION_GRID = [round(w, 2) for w in np.arange(0.0, 2.01, 0.1)]


def load_split(folder, split):
    with open(os.path.join(folder, f"{split}.json")) as f:
        meta = json.load(f)
    rows = np.fromfile(os.path.join(folder, f"{split}.f32"), np.float32).reshape(meta["n"], len(meta["columns"]))
    cols = meta["columns"]
    pick = lambda prefix: rows[:, [i for i, c in enumerate(cols) if c.startswith(prefix)]]
    if meta["labels"] != EMOTIONS:
        raise SystemExit(f"error: {split}.json labels {meta['labels']} are not {EMOTIONS}")
    return {"y": rows[:, 0].astype(np.int64), "ev": pick("ev."), "cnn": pick("cnn."), "cnnMaskMean": pick("cnnMaskMean."),
            "cnnMaskBlack": pick("cnnMaskBlack."), "evNames": [c[3:] for c in cols if c.startswith("ev.")], "meta": meta}


class EvMlp(nn.Module):
    def __init__(self, mean, std, hidden=HIDDEN, dropout=DROPOUT, linear=False):
        super().__init__()
        self.register_buffer("mean", torch.as_tensor(mean, dtype=torch.float32))
        self.register_buffer("std", torch.as_tensor(std, dtype=torch.float32))
        d = len(mean)
        self.net = nn.Linear(d, 7) if linear else nn.Sequential(
            nn.Linear(d, hidden), nn.ReLU(), nn.Dropout(dropout),
            nn.Linear(hidden, hidden), nn.ReLU(), nn.Dropout(dropout),
            nn.Linear(hidden, 7))

    def forward(self, ev):
        return self.net((ev - self.mean) / self.std)


class Probabilities(nn.Module):
    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, ev):
        return torch.softmax(self.model(ev), -1)


def train_model(x, y, mean, std, linear, epochs):
    torch.manual_seed(SEED)
    model = EvMlp(mean, std, linear=linear)
    opt = torch.optim.Adam(model.parameters(), lr=LR, weight_decay=WEIGHT_DECAY)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    g = torch.Generator().manual_seed(SEED)
    for _ in range(epochs):
        model.train()
        order = torch.randperm(len(xt), generator=g)
        for i in range(0, len(order), BATCH):
            idx = order[i:i + BATCH]
            loss = nn.functional.cross_entropy(model(xt[idx]), yt[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
    return model.eval()


def predict(model, x):
    with torch.no_grad():
        return torch.softmax(model(torch.from_numpy(x)), -1).numpy()


def fuse(p_cnn, p_ev, w):
    logp = np.log(np.clip(p_cnn, 1e-7, 1)) + w * np.log(np.clip(p_ev, 1e-7, 1))
    logp -= logp.max(1, keepdims=True)
    p = np.exp(logp)
    return p / p.sum(1, keepdims=True)


def report(y, p):
    r = classification_report(y, p.argmax(1))
    return {"accuracy": r["accuracy"], "macroF1": r["macroF1"],
            "recall": {k: round(v["recall"], 4) for k, v in r["perClass"].items()}, "confusionMatrix": r["confusionMatrix"]}


def line(name, r):
    rec = " ".join(f"{k} {v:.2f}" for k, v in r["recall"].items())
    return f"{name:44s} acc {100 * r['accuracy']:5.2f} %  macro-F1 {r['macroF1']:.3f}  recall: {rec}"


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--features", default="runs/ferc")
    p.add_argument("--out", default="runs/ferc/report.json")
    p.add_argument("--export", default=None, help="write the MLP as ONNX + sidecar here, e.g. models/ferc-ev.onnx")
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    t0, c0 = time.time(), time.process_time()

    train, val = load_split(args.features, "train"), load_split(args.features, "val")
    mean, std = train["ev"].mean(0), train["ev"].std(0) + 1e-6
    results = {}

    # 5-fold CV on train: out-of-fold EV probabilities, for the fusion weight that never sees val.
    rng = np.random.default_rng(SEED)
    folds = rng.permutation(len(train["y"])) % FOLDS
    oof = np.zeros((len(train["y"]), 7), np.float32)
    for k in range(FOLDS):
        tr, te = folds != k, folds == k
        m = train_model(train["ev"][tr], train["y"][tr], mean, std, linear=False, epochs=EPOCHS_MLP)
        oof[te] = predict(m, train["ev"][te])
    results["evMlpTrainCv"] = report(train["y"], oof)
    cv_scores = {w: float((fuse(train["cnn"], oof, w).argmax(1) == train["y"]).mean()) for w in FUSION_GRID}
    w_cv = max(cv_scores, key=lambda w: (cv_scores[w], -w))

    logreg = train_model(train["ev"], train["y"], mean, std, linear=True, epochs=EPOCHS_LOGREG)
    mlp = train_model(train["ev"], train["y"], mean, std, linear=False, epochs=EPOCHS_MLP)
    p_lr, p_mlp = predict(logreg, val["ev"]), predict(mlp, val["ev"])
    results["evLogregVal"] = report(val["y"], p_lr)
    results["evMlpVal"] = report(val["y"], p_mlp)
    results["cnnVal"] = report(val["y"], val["cnn"])
    results["cnnMaskedMeanVal"] = report(val["y"], val["cnnMaskMean"])
    results["cnnMaskedBlackVal"] = report(val["y"], val["cnnMaskBlack"])
    results["fusionProductVal"] = report(val["y"], fuse(val["cnn"], p_mlp, 1.0))
    results["fusionTrainCvVal"] = report(val["y"], fuse(val["cnn"], p_mlp, w_cv))
    val_scores = {w: float((fuse(val["cnn"], p_mlp, w).argmax(1) == val["y"]).mean()) for w in FUSION_GRID}
    w_val = max(val_scores, key=lambda w: (val_scores[w], -w))
    results["fusionValBestVal"] = report(val["y"], fuse(val["cnn"], p_mlp, w_val))

    print(f"train {len(train['y'])}, val {len(val['y'])} crops; EV of {len(train['evNames'])} distances")
    print(line("EV MLP, 5-fold CV on train", results["evMlpTrainCv"]))
    print(line("EV logistic regression, val", results["evLogregVal"]))
    print(line("EV MLP, val", results["evMlpVal"]))
    print(line("emolens-fer CNN, val", results["cnnVal"]))
    print(line("CNN, background removed (mean gray), val", results["cnnMaskedMeanVal"]))
    print(line("CNN, background removed (black), val", results["cnnMaskedBlackVal"]))
    print(line("fusion w=1 (fixed), val", results["fusionProductVal"]))
    print(line(f"fusion w={w_cv} (5-fold CV on train), val", results["fusionTrainCvVal"]))
    print(line(f"fusion w={w_val} (chosen ON VAL: optimistic), val", results["fusionValBestVal"]))

    recipe = {"seed": SEED, "epochsMlp": EPOCHS_MLP, "epochsLogreg": EPOCHS_LOGREG, "batch": BATCH, "lr": LR,
              "weightDecay": WEIGHT_DECAY, "hidden": HIDDEN, "dropout": DROPOUT, "folds": FOLDS, "fusionGrid": FUSION_GRID}
    out = {"results": results, "fusionWeight": {"fixed": 1.0, "trainCv": w_cv, "valBest": w_val, "trainCvScores": cv_scores,
                                                 "valScores": val_scores},
           "evNames": train["evNames"], "recipe": recipe,
           "featureTimings": {s["meta"]["split"]: {"wallSeconds": s["meta"]["wallSeconds"], "cpuSeconds": s["meta"]["cpuSeconds"]}
                              for s in (train, val)},
           "trainWallSeconds": time.time() - t0, "trainCpuSeconds": time.process_time() - c0,
           "command": "bash training/py.sh -m training.ferc"}
    os.makedirs(os.path.dirname(args.out) or ".", exist_ok=True)
    with open(args.out, "w") as f:
        json.dump(out, f, indent=1)
    print(f"wrote {args.out} ({out['trainWallSeconds']:.0f} s wall, {out['trainCpuSeconds']:.0f} s CPU, 1 thread, shared machine)")

    if args.export:
        model = Probabilities(mlp).eval()
        torch.onnx.export(model, torch.zeros(2, 24), args.export, opset_version=13, input_names=["ev"],
                          output_names=["probabilities"], dynamic_axes={"ev": {0: "batch"}, "probabilities": {0: "batch"}})
        sidecar = {
            "format": "emolens-model/1", "name": os.path.splitext(os.path.basename(args.export))[0], "task": "ev-emotion",
            "labels": EMOTIONS,
            "input": {"name": "ev", "shape": ["N", 24], "features": train["evNames"],
                      "note": "the raw expressional vector of src/landmarks/ev.ts; standardised inside the graph"},
            "output": {"name": "probabilities", "kind": "probabilities"},
            "metrics": {"val": {"split": "val", "n": int(len(val["y"])), **results["evMlpVal"]}},
            "fusion": {"rule": "log p = log p_cnn + w log p_ev, renormalised", "w": 1.0,
                       "val": results["fusionProductVal"]},
            "training": {"recipe": recipe, "command": "bash training/py.sh -m training.ferc --export " + args.export,
                         "data": "FER2013 train (features: scripts/ferc-features.ts)"},
            "parameters": int(sum(p.numel() for p in mlp.parameters())),
            "sha256": sha256(args.export),
            "license": "MIT", "provenance": "trained by training/ferc.py on EVs from face-landmarks68 (MIT)",
        }
        write_sidecar(args.export, sidecar)
        print(f"wrote {args.export} ({os.path.getsize(args.export)} bytes) + sidecar")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
