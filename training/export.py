"""Write the model contract from a training checkpoint: models/<name>.onnx + models/<name>.json.

    python3 -m training export --run runs/default --name emolens-fer

The ONNX graph takes the normalised centre crop [N,1,S,S] (float32, dynamic N) and returns probabilities [N,7];
with --tta hflip (the default when the run validated with it) the graph averages the image and its mirror, so every
runtime gets the same answer without doing anything. After writing, the ONNX is run through onnxruntime-node on val
images and must agree with PyTorch. See docs/model-contract.md.
"""
from __future__ import annotations

import argparse
import json
import platform
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .common import EMOTIONS, center_crop, load_checkpoint
from .data.datasets import DataError, load_cached, pack_meta
from .data.ferplus import DEFAULT_VOTES, evaluate as ferplus_evaluate, load_votes
from .errors import UsageError
from .explain.gradcam_outputs import add_gradcam_outputs
from .metrics import calibration_report, classification_report
from .models.registry import create_model
from .quantize import quantize_weights
from .sidecar import sha256, write_sidecar
from .train import build_parser as train_parser

CONTRACT_FORMAT = "emolens-model/2"  # /2: optional "explain" block (docs/model-contract.md)
REPO = Path(__file__).resolve().parent.parent
# Where FER2013's eyes sit in its 48x48 crops (fractions of the side), measured with our detector on train images
# by scripts/fer-geometry.ts (2,000 images: eye y 0.400 ± 0.064, inter-ocular 0.334–0.359 median); the aligner frames
# photo faces the same way.
FER_EYE_Y = 0.40
FER_EYE_DISTANCE = 0.34


def provenance(stages: list[dict], train_cfg: dict) -> str:
    """One sentence on what the weights learnt from and how they were chosen."""
    ferplus = [st for st in stages if "targets" in st]
    if not ferplus:
        return "Trained by emolens training/ on FER2013 train (28,709 images), selected on FER2013 val (PublicTest)."
    t = ferplus[-1]["targets"]
    by = "FER+ majority accuracy" if t.get("selectedBy") == "ferplus" else "FER2013-label accuracy"
    return (f"Trained by emolens training/ on FER2013 train images with the FER+ raters' vote distributions as targets "
            f"(--targets {t['spec']}: {t.get('ferplusTargets', 0):,} images; {t.get('fer2013Fallback', 0):,} without usable "
            f"votes on their FER2013 label), selected on FER2013 val (PublicTest) by {by}.")


def build_parser(p: argparse.ArgumentParser | None = None) -> argparse.ArgumentParser:
    p = p or argparse.ArgumentParser(description=__doc__)
    p.add_argument("--run", default="runs/default", help="run folder with best.pt and history.json")
    p.add_argument("--checkpoint", default="best.pt")
    p.add_argument("--name", default="emolens-fer", help="model name: writes <out>/<name>.onnx and .json")
    p.add_argument("--out", default=str(REPO / "models"))
    p.add_argument("--data", default=None, help="val source for the sidecar metrics (default: the run's --data)")
    p.add_argument("--tta", choices=["none", "hflip"], default=None, help="default: what the run validated with")
    p.add_argument("--eye-y", type=float, default=FER_EYE_Y)
    p.add_argument("--eye-distance", type=float, default=FER_EYE_DISTANCE)
    p.add_argument("--ferplus", default=None, help="FER+ val votes for the sidecar's metrics.val.ferplus (default: the "
                   "run's --ferplus, else ../shared/datasets/ferplus; none found: no FER+ figures)")
    p.add_argument("--opset", type=int, default=13)
    p.add_argument("--skip-verify", action="store_true", help="don't run onnxruntime-node (not recommended)")
    p.add_argument("--ensemble", nargs="+", default=[], metavar="CKPT",
                   help="more checkpoints (same input size and normalisation) whose probabilities the graph averages "
                        "with --run's, e.g. the parent of a warm restart (a snapshot ensemble); costs one pass each")
    p.add_argument("--quantize-weights", action="store_true",
                   help="store Conv/Gemm weights as int8 per output channel (training/quantize.py): ~4x smaller file, "
                        "float32 compute; the sidecar's metrics are then those of the quantised graph in ONNX Runtime")
    return p


class Exported(nn.Module):
    """What goes into the .onnx: the net(s), softmax, and optionally the mirror average."""

    def __init__(self, nets: list[nn.Module], hflip: bool):
        super().__init__()
        self.nets, self.hflip = nn.ModuleList(nets), hflip

    def forward(self, x):
        views = [x, torch.flip(x, dims=[3])] if self.hflip else [x]
        p = [F.softmax(net(v), dim=1) for net in self.nets for v in views]
        return sum(p) / len(p)


def with_gradcam_outputs(onnx_path: Path) -> dict | None:
    """Add the last activations Grad-CAM needs as graph outputs (training/explain/gradcam_outputs.py); the sidecar's
    "explain" block, or None for architectures without a mean+max pooled head (explain then uses occlusion)."""
    try:
        import onnx
    except ImportError:
        print("note: python3-onnx is missing, so the model gets no Grad-CAM outputs (emolens explain uses occlusion)")
        return None
    model = onnx.load(str(onnx_path))
    block = add_gradcam_outputs(model)
    if block:
        onnx.save(model, str(onnx_path))
    return {"gradcam": block} if block else None


def run_onnxruntime(onnx_path: Path, x: np.ndarray) -> np.ndarray:
    """Run the exported model through onnxruntime-node (the runtime emolens ships) and return its output."""
    with tempfile.TemporaryDirectory() as tmp:
        inp, out = Path(tmp) / "x.bin", Path(tmp) / "y.bin"
        x.astype(np.float32).tofile(inp)
        script = (
            "const ort = require('onnxruntime-node'); const fs = require('fs');"
            "(async () => { const [m, i, o, ...dims] = process.argv.slice(1);"
            "const s = await ort.InferenceSession.create(m);"
            "const b = fs.readFileSync(i); const x = new Float32Array(b.buffer, b.byteOffset, b.length / 4);"
            "const r = await s.run({ [s.inputNames[0]]: new ort.Tensor('float32', x, dims.map(Number)) });"
            "fs.writeFileSync(o, Buffer.from(r[s.outputNames[0]].data.buffer)); })()"
            ".catch(e => { console.error(e.message); process.exit(1); });"
        )
        subprocess.run(["node", "-e", script, str(onnx_path), str(inp), str(out), *map(str, x.shape)],
                       cwd=REPO, check=True)
        return np.fromfile(out, dtype=np.float32).reshape(x.shape[0], -1)


COMMAND_KEYS = ("arch", "data", "init", "epochs", "optimizer", "lr", "weight_decay", "batch_size", "input_size",
                "label_smoothing", "erasing", "seed", "tta", "threads", "cpu_budget_min", "eval_every_min")
BUDGET_KEYS = ("threads", "cpu_budget_min", "eval_every_min")  # in the command only for --cpu-budget-min runs


def train_command(train_cfg: dict) -> str:
    """The `npm run train` line that repeats a run: the usual knobs always, any other one where it is not the default
    (distillation, photometric augmentation, mixing, ...)."""
    defaults = vars(train_parser().parse_args([]))
    skip = {"out", "resume", "max_steps", "limit", "cache_dir", *COMMAND_KEYS}
    flags = [f"--{k.replace('_', '-')} {train_cfg[k]}" for k in COMMAND_KEYS if train_cfg.get(k) is not None
             and (train_cfg.get("cpu_budget_min") or k not in BUDGET_KEYS)]
    for k, v in train_cfg.items():
        if k in skip or k not in defaults or v == defaults[k]:
            continue
        flags.append(f"--{k.replace('_', '-')}" if v is True else f"--{k.replace('_', '-')} {v}")
    return "npm run train -- " + " ".join(flags) + f" --out {train_cfg.get('out')}"


def distillation(train_cfg: dict) -> dict:
    """Who taught a distilled stage, and how: the teacher model's name, sha256 and val figures (from its sidecar), or
    the members of a cached ensemble (its `meta`), with the loss weights."""
    record = {"alpha": train_cfg.get("kd_alpha"), "temperature": train_cfg.get("kd_temperature")}
    if train_cfg.get("teacher_members"):  # recorded by train.py when it loaded them (any number, .onnx or .pt)
        record |= {"mode": "online: the teacher scores the student's own augmented view", "teacher": train_cfg["teacher"],
                   "members": train_cfg["teacher_members"]}
    elif train_cfg.get("teacher"):  # runs from before teacher_members was recorded: one shipped model
        teacher = Path(train_cfg["teacher"])
        sidecar_path = (teacher if teacher.is_absolute() else REPO / teacher).with_suffix(".json")
        sidecar = json.loads(sidecar_path.read_text()) if sidecar_path.exists() else {}
        record |= {"mode": "online: the teacher scores the student's own augmented view", "teacher": str(teacher),
                   "teacherSha256": sidecar.get("sha256"),
                   "teacherValAccuracy": sidecar.get("metrics", {}).get("val", {}).get("accuracy")}
    else:
        probs = Path(train_cfg["teacher_probs"])
        probs = probs if probs.is_absolute() else REPO / probs
        meta = {}
        if probs.exists():
            with np.load(probs) as z:
                meta = json.loads(str(z["meta"])) if "meta" in z else {}
        record |= {"mode": "offline: cached ensemble probabilities per train image", "teacherProbs": train_cfg["teacher_probs"],
                   "members": meta.get("members")}
    return record


def lineage(ckpt: dict, history: list[dict]) -> list[tuple[dict, list[dict]]]:
    """(config, per-epoch history) of the run that wrote `ckpt` and of the runs it was warm-started from
    (train.py --init), oldest first."""
    runs, parent = [(ckpt["config"], history)], ckpt.get("parent")
    while parent:
        runs.insert(0, (parent["config"], parent.get("history", [])))
        parent = parent.get("parent")
    return runs


def stage(index: int, train_cfg: dict, history: list[dict]) -> dict:
    """One training run as the sidecar records it: its knobs, the command that repeats it, its epochs."""
    return {
        "stage": index,
        # the train.py knobs; what train.py itself added to its config (where it ran, who taught it) is kept apart
        "recipe": {k: v for k, v in train_cfg.items()
                   if k not in ("resume", "max_steps", "limit", "cache_dir", "trained_on", "teacher_members", "target_info",
                                "selected_by")},
        **({"trainedOn": train_cfg["trained_on"]} if train_cfg.get("trained_on") else {}),
        # --targets ferplus / mix: how many images learnt the raters' distribution, and the truth best.pt was chosen by
        **({"targets": {"spec": train_cfg["targets"], **train_cfg.get("target_info", {}),
                        "selectedBy": train_cfg.get("selected_by")}}
           if train_cfg.get("targets", "fer2013") != "fer2013" else {}),
        "command": train_command(train_cfg),
        **({"distillation": distillation(train_cfg)} if train_cfg.get("teacher") or train_cfg.get("teacher_probs") else {}),
        "epochsRun": history[-1]["epoch"] if history else 0,  # fractional where a CPU budget cut an epoch
        "trainSeconds": round(sum(h.get("seconds", 0) for h in history)),
        # train.py --cpu-budget-min runs: CPU seconds of the training steps (all threads) and of validation
        **({"trainCpuSeconds": history[-1]["train_cpu_seconds"], "valCpuSeconds": history[-1]["val_cpu_seconds"],
            "cpuBudgetMin": train_cfg.get("cpu_budget_min")} if history and "train_cpu_seconds" in history[-1] else {}),
    }


def main(cfg: argparse.Namespace) -> dict:
    run = Path(cfg.run)
    ckpt = load_checkpoint(run / cfg.checkpoint)
    train_cfg = ckpt["config"]
    size = train_cfg["input_size"]
    tta = cfg.tta or train_cfg.get("tta", "none")
    mean, std = ckpt["mean"], ckpt["std"]
    members = [ckpt] + [load_checkpoint(path) for path in cfg.ensemble]
    for path, member in zip(cfg.ensemble, members[1:]):
        if member["config"]["input_size"] != size or abs(member["mean"] - mean) > 1e-6 or abs(member["std"] - std) > 1e-6:
            raise UsageError(f"--ensemble {path}: its input size or normalisation differs from {run / cfg.checkpoint}")
    nets = []
    for member in members:
        net = create_model(member["arch"])
        net.load_state_dict(member["model"])
        nets.append(net)
    model = Exported(nets, hflip=tta == "hflip").eval()

    # Validation metrics of exactly what is exported, on the whole val split.
    val_source = cfg.data or train_cfg.get("val_data") or train_cfg["data"]
    subset_of = (pack_meta(val_source) or {}).get("valSubsetOf")
    if subset_of:
        raise UsageError(f"the run's val data {val_source} holds a subset of val (of {subset_of} images), and a sidecar "
                         "records the whole split: pass --data with all of it (e.g. ../shared/datasets/fer2013)")
    x_val, y_val = load_cached(val_source, "val", train_cfg.get("cache_dir", "runs/cache"))
    x = center_crop((torch.from_numpy(x_val).float().unsqueeze(1) / 255 - mean) / std, size).contiguous()
    t0 = time.time()
    with torch.no_grad():
        probs = torch.cat([model(x[i:i + 512]) for i in range(0, len(x), 512)]).numpy()
    torch_ms = (time.time() - t0) * 1000 / len(x)
    report = {**classification_report(y_val, probs.argmax(1)), **calibration_report(y_val, probs)}
    print(f"val accuracy {report['accuracy']:.4f}  macro-F1 {report['macroF1']:.4f}  ECE {report['ece']:.4f}  "
          f"disgust recall {report['perClass']['disgust']['recall']:.3f}  ({torch_ms:.2f} ms/img in PyTorch)")

    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    onnx_path = out / f"{cfg.name}.onnx"
    torch.onnx.export(model, torch.zeros(1, 1, size, size), str(onnx_path), opset_version=cfg.opset,
                      input_names=["input"], output_names=["probabilities"],
                      dynamic_axes={"input": {0: "batch"}, "probabilities": {0: "batch"}}, do_constant_folding=True)
    explain = with_gradcam_outputs(onnx_path)
    quantized = None
    if cfg.quantize_weights:
        quantized = quantize_weights(onnx_path)
        # What ships is the quantised graph: its own val figures, from ONNX Runtime on every val image.
        ort_all = np.concatenate([run_onnxruntime(onnx_path, x[i:i + 1024].numpy()) for i in range(0, len(x), 1024)])
        quantized.update(maxAbsDiffFromFloat=float(np.abs(ort_all - probs).max()),
                         sameArgmaxAsFloat=float((ort_all.argmax(1) == probs.argmax(1)).mean()),
                         floatValAccuracy=report["accuracy"])
        probs = ort_all
        report = {**classification_report(y_val, probs.argmax(1)), **calibration_report(y_val, probs)}
        print(f"int8 weights ({quantized['tensors']} tensors, {quantized['weightBytesBefore'] / 1e6:.2f} -> "
              f"{quantized['weightBytesAfter'] / 1e6:.2f} MB): val accuracy {report['accuracy']:.4f} "
              f"(float {quantized['floatValAccuracy']:.4f}), same argmax as float {quantized['sameArgmaxAsFloat']:.4f}")

    votes_source = cfg.ferplus or train_cfg.get("ferplus") or str(DEFAULT_VOTES)
    try:
        val_votes = load_votes(votes_source, val_source, "val")
    except DataError as err:
        if cfg.ferplus:
            raise
        val_votes = None
        print(f"no FER+ figures in the sidecar ({err})")
    if val_votes is not None:
        fp = ferplus_evaluate(probs, y_val, val_votes)
        report["ferplus"] = {"votes": f"{Path(votes_source).name}/val.csv" if Path(votes_source).is_dir() else Path(votes_source).name,
                             "matched": int(np.isfinite(val_votes[:, 0]).sum()), **fp}
        print(f"FER+ majority accuracy {fp['majority']['accuracy']:.4f} (n {fp['majority']['n']})  macro-F1 "
              f"{fp['majority']['macroF1']:.4f}  KL {fp['distribution']['kl']:.4f}  ECE vs raters {fp['distribution']['ece']:.4f}")

    agreement = None
    # A quantised graph's metrics were just computed by ONNX Runtime itself; its change from the float model is in
    # weightStorage, so there is nothing left to verify.
    if not cfg.skip_verify and not quantized:
        idx = np.random.default_rng(0).choice(len(x), size=min(256, len(x)), replace=False)
        ort_probs = run_onnxruntime(onnx_path, x[idx].numpy())
        max_diff = float(np.abs(ort_probs - probs[idx]).max())
        # An argmax is only compared where PyTorch's top two are further apart than the tolerance: a barely trained net
        # (the tests' 2-step models) can put two classes within 1e-8 of each other, and rounding may then pick either.
        top2 = np.sort(probs[idx], 1)[:, -2:]
        decisive = (top2[:, 1] - top2[:, 0]) > 2e-4
        same = ort_probs.argmax(1) == probs[idx].argmax(1)
        same_argmax = float(same[decisive].mean()) if decisive.any() else 1.0
        agreement = {"images": len(idx), "maxAbsDiff": max_diff, "sameArgmax": same_argmax,
                     "nearTies": int((~decisive).sum())}
        print(f"onnxruntime-node vs PyTorch on {len(idx)} val images: max |diff| {max_diff:.2e}, same argmax {same_argmax:.4f}"
              + (f" (not counted: {agreement['nearTies']} near ties)" if agreement["nearTies"] else ""))
        if max_diff > 1e-4 or same_argmax < 1:
            raise SystemExit(f"export check failed: ONNX Runtime disagrees with PyTorch (max diff {max_diff})")

    history = json.loads((run / "history.json").read_text()) if (run / "history.json").exists() else []
    stages, full_history = [], []
    for i, (stage_cfg, stage_history) in enumerate(lineage(ckpt, history)):
        stages.append(stage(i, stage_cfg, stage_history))
        # one continuous curve: a warm-started stage's epochs follow its parent's
        # (epochs may be fractional: a mid-epoch validation row, or a CPU budget that cut the last epoch)
        offset = full_history[-1]["epoch"] if full_history else 0
        full_history += [{**h, "epoch": h["epoch"] + offset, "stage": i} for h in stage_history]
    sidecar = {
        "format": CONTRACT_FORMAT,
        "name": cfg.name,
        "task": "emotion",
        "labels": EMOTIONS,
        "input": {"name": "input", "layout": "NCHW", "channels": 1, "height": size, "width": size,
                  "dtype": "float32", "dynamicBatch": True},
        "output": {"name": "probabilities", "kind": "probabilities"},
        "preprocess": {
            "faceCrop": {"policy": "fer2013", "size": 48, "eyeY": cfg.eye_y, "eyeDistance": cfg.eye_distance},
            "grayscale": {"weights": [0.299, 0.587, 0.114]},
            "equalize": False,
            "centerCrop": size,
            "scale": 1 / 255,
            "mean": [round(mean, 6)],
            "std": [round(std, 6)],
        },
        "tta": {"hflip": tta == "hflip", "inGraph": True},
        **({"explain": explain} if explain else {}),
        **({"ensemble": [{"checkpoint": str(path), "arch": m["arch"], "epoch": m["epoch"] + 1,
                          "valAccuracy": m.get("val", {}).get("accuracy")}
                         for path, m in zip([str(run / cfg.checkpoint), *cfg.ensemble], members)]} if cfg.ensemble else {}),
        "metrics": {"val": {"split": "val", "source": "FER2013 PublicTest (../shared/datasets/fer2013/val)", **report}},
        "training": {
            "arch": ckpt["arch"],
            "checkpoint": f"{run.name}/{cfg.checkpoint} (epoch {ckpt['epoch'] + 1})",
            "recipe": stages[-1]["recipe"],
            "command": " && ".join(st["command"] for st in stages),
            "stages": stages,
            "epochsRun": full_history[-1]["epoch"] if full_history else 0,
            "trainSeconds": round(sum(h.get("seconds", 0) for h in full_history)),
            "machine": f"{platform.machine()} CPU, {torch.get_num_threads()} threads, PyTorch {torch.__version__}",
            "history": full_history,
        },
        "parameters": sum(int(m["parameters"]) for m in members),
        "macs": sum(int(m["macs"]) for m in members) * (2 if tta == "hflip" else 1),
        "exportCheck": agreement,
        **({"weightStorage": quantized} if quantized else {}),
        "sha256": sha256(onnx_path),
        "provenance": provenance(stages, train_cfg),
        "license": "Weights: MIT (emolens). Training data FER2013: research use; see docs/model-card.md.",
    }
    write_sidecar(out / f"{cfg.name}.onnx", sidecar)
    print(f"wrote {onnx_path} ({onnx_path.stat().st_size / 1e6:.2f} MB) and {out / (cfg.name + '.json')}")
    return sidecar
