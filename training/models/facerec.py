"""dlib's face-recognition ResNet (as face-api.js ships it) in torch: pretrained face features for expressions.

    /usr/bin/python3 -m training.models.facerec check      # torch vs face-api (TF.js) descriptors on the same faces
    /usr/bin/python3 -m training.models.facerec info       # parameters and MACs per working size

The network is Davis King's dlib_face_recognition_resnet_model_v1 (a ResNet-34 with layers removed and half the
filters, trained from scratch on ~3 M faces of 7,485 identities with a metric loss; 0.9938 on LFW). Its author
released the model "into the public domain" (github.com/davisking/dlib-models README); face-api.js (MIT) ported it
to TF.js and @vladmandic/face-api (MIT, an npm dependency of this project) ships those weights, uint8-quantised, in
node_modules/@vladmandic/face-api/model/face_recognition_model.bin. Nothing is downloaded.

Owns: the weight loader (face-api's weight names -> torch, with the per-channel scale layer folded into each conv),
`FaceRecNet` (the descriptor network exactly as face-api runs it, for the check) and `facerec_emotion`, the
registered architecture that reads the training pipeline's normalised grayscale crop, resizes it in-graph to a
working size and classifies 7 emotions from the network's last 256-channel map. It must not own a training loop.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from ..common import count_macs
from ..convert.tfjs import read_weights
from ..data.datasets import load_cached

ROOT = Path(__file__).resolve().parents[2]
MANIFEST = ROOT / "node_modules" / "@vladmandic" / "face-api" / "model" / "face_recognition_model-weights_manifest.json"
MEAN_RGB = (122.782, 117.001, 104.298)  # face-api: (x - mean) / 255 on 0..255 RGB
STAGES = [("conv32", 32, ["conv32_1", "conv32_2", "conv32_3"]),
          ("conv64", 64, ["conv64_down", "conv64_1", "conv64_2", "conv64_3"]),
          ("conv128", 128, ["conv128_down", "conv128_1", "conv128_2"]),
          ("conv256", 256, ["conv256_down", "conv256_1", "conv256_2", "conv256_down_out"])]
LICENSE = ("dlib_face_recognition_resnet_model_v1 by Davis King, released into the public domain "
           "(github.com/davisking/dlib-models); ported to TF.js by face-api.js (MIT), shipped by @vladmandic/face-api (MIT)")


def load_weights(manifest: Path = MANIFEST) -> dict[str, np.ndarray]:
    if not manifest.exists():
        raise FileNotFoundError(f"{manifest} not found: run npm ci (the weights ship in @vladmandic/face-api)")
    return read_weights(str(manifest), json.loads(manifest.read_text()))


def folded_conv(w: dict, prefix: str, stride: int, padding: int) -> nn.Conv2d:
    """conv + bias, then face-api's scale layer (x * s + b per channel), folded into one Conv2d."""
    filters = torch.from_numpy(w[f"{prefix}/conv/filters"]).permute(3, 2, 0, 1)  # HWIO -> OIHW
    s = torch.from_numpy(w[f"{prefix}/scale/weights"])
    conv = nn.Conv2d(filters.shape[1], filters.shape[0], filters.shape[2], stride, padding)
    with torch.no_grad():
        conv.weight.copy_(filters * s[:, None, None, None])
        conv.bias.copy_(torch.from_numpy(w[f"{prefix}/conv/bias"]) * s + torch.from_numpy(w[f"{prefix}/scale/biases"]))
    return conv


class Residual(nn.Module):
    """face-api's residual / residualDown: two 3x3 convs; the down variant strides 2 with 'valid' padding and adds
    a 2x2 average pool of the input, zero-padded in channels (and by a row/column where the sizes differ)."""

    def __init__(self, w: dict, prefix: str, down: bool):
        super().__init__()
        self.down = down
        self.conv1 = folded_conv(w, f"{prefix}/conv1", 2 if down else 1, 0 if down else 1)
        self.conv2 = folded_conv(w, f"{prefix}/conv2", 1, 1)

    def forward(self, x):
        out = self.conv2(F.relu(self.conv1(x)))
        if self.down:
            x = F.avg_pool2d(x, 2, 2)
            out = F.pad(out, (0, x.shape[3] - out.shape[3], 0, x.shape[2] - out.shape[2]))
            x = F.pad(x, (0, 0, 0, 0, 0, out.shape[1] - x.shape[1]))
        return F.relu(out + x)


class Trunk(nn.Module):
    """Input (N, 3, H, W) already normalised as face-api does -> the last 256-channel map. Without `last_down`
    the final strided block (conv256_down_out, a 3x3 'valid' conv that needs a map of at least 3x3, so a 112 px
    input or more) is left out and the map is the one after conv256_2."""

    def __init__(self, w: dict, last_down: bool = True):
        super().__init__()
        self.stem = folded_conv(w, "conv32_down", 2, 0)
        self.stages = nn.ModuleList(
            nn.Sequential(*[Residual(w, name, down="down" in name) for name in names
                            if last_down or name != "conv256_down_out"]) for _, _, names in STAGES)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.stem(x)), 3, 2)
        for stage in self.stages:
            x = stage(x)
        return x


class FaceRecNet(nn.Module):
    """The 128-d descriptor network as face-api runs it: (N, 3, 150, 150) RGB in 0..255 -> (N, 128)."""

    def __init__(self, w: dict | None = None):
        super().__init__()
        w = w or load_weights()
        self.trunk = Trunk(w)
        self.register_buffer("mean", torch.tensor(MEAN_RGB).view(1, 3, 1, 1))
        self.register_buffer("fc", torch.from_numpy(w["fc"]).clone())

    def forward(self, rgb255):
        return self.trunk((rgb255 - self.mean) / 255).mean((2, 3)) @ self.fc


class FaceRecEmotion(nn.Module):
    """Training-pipeline grayscale (x - mean) / std at any crop size -> 7 logits.

    In the graph: back to 0..1 gray, bilinear resize to `work` px, the pretrained trunk with its first conv
    collapsed to one gray channel (exact for gray input: R = G = B) and face-api's mean folded into its bias, then
    global average pooling, dropout and a new linear head. The last strided block is left out (see Trunk), so
    working sizes from 64 px up work. `freeze` names the stages kept at their face-recognition
    weights (the stem counts as stage 0)."""

    def __init__(self, num_classes: int = 7, work: int = 96, freeze: int = 1, dropout: float = 0.3,
                 w: dict | None = None):
        super().__init__()
        w = w or load_weights()
        self.work = work
        self.trunk = Trunk(w, last_down=False)
        stem = self.trunk.stem
        gray = nn.Conv2d(1, stem.out_channels, stem.kernel_size, stem.stride, 0)
        with torch.no_grad():
            gray.weight.copy_(stem.weight.sum(1, keepdim=True))
            offset = torch.tensor(MEAN_RGB) / 255  # x_c = gray - mean_c / 255 for every channel c
            gray.bias.copy_(stem.bias - (stem.weight.sum((2, 3)) * offset).sum(1))
        self.trunk.stem = gray
        self.register_buffer("in_mean", torch.tensor(0.0))
        self.register_buffer("in_std", torch.tensor(1.0))
        frozen = [self.trunk.stem] + list(self.trunk.stages)[:max(0, freeze - 1)] if freeze > 0 else []
        for m in frozen:
            for p in m.parameters():
                p.requires_grad_(False)
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(256, num_classes)

    def set_input_normalization(self, mean: float, std: float) -> None:
        self.in_mean.fill_(mean)
        self.in_std.fill_(std)

    def forward(self, x):
        g = x * self.in_std + self.in_mean
        if g.shape[-1] != self.work:
            g = F.interpolate(g, size=(self.work, self.work), mode="bilinear", align_corners=False)
        return self.head(self.dropout(self.trunk(g).mean((2, 3))))


# ---------------------------------------------------------------- check against face-api

def face_batch(n: int, size: int = 150) -> np.ndarray:
    """n FER2013 val faces (gray, upscaled) or, without the data, smooth random images: (n, size, size, 3) 0..255."""
    from PIL import Image
    try:
        x, _ = load_cached(str(ROOT.parent / "shared" / "datasets" / "fer2013"), "val", str(ROOT / "runs" / "cache"))
        faces = [np.asarray(Image.fromarray(img).resize((size, size), Image.BICUBIC)) for img in x[:n]]
        return np.repeat(np.stack(faces)[..., None], 3, -1).astype(np.float32)
    except Exception:  # noqa: BLE001 - the check must also run without FER2013
        rng = np.random.default_rng(0)
        small = rng.uniform(0, 255, (n, 12, 12, 3)).astype(np.float32)
        return np.stack([np.asarray(Image.fromarray(s.astype(np.uint8)).resize((size, size), Image.BICUBIC))
                         for s in small]).astype(np.float32)


def check(n: int) -> float:
    """Largest |torch - face-api| over n descriptors (face-api's own forward on @tensorflow/tfjs, cpu backend)."""
    rgb = face_batch(n)
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "x.f32").write_bytes(rgb.astype("<f4").tobytes())
        subprocess.run(["node", str(ROOT / "scripts" / "facerec-descriptors.mjs"), "--input", f"{tmp}/x.f32",
                        "--count", str(n), "--out", f"{tmp}/y.f32"], check=True)
        theirs = np.frombuffer((Path(tmp) / "y.f32").read_bytes(), "<f4").reshape(n, 128)
    with torch.no_grad():
        mine = FaceRecNet()(torch.from_numpy(rgb).permute(0, 3, 1, 2)).numpy()
    diff = float(np.abs(mine - theirs).max())
    cos = (mine * theirs).sum(1) / np.linalg.norm(mine, axis=1) / np.linalg.norm(theirs, axis=1)
    print(f"{n} faces: max |diff| {diff:.2e} (descriptor scale {np.abs(theirs).max():.3f}), "
          f"min cosine {cos.min():.9f}")
    return diff


def info() -> None:
    for work in (64, 72, 80, 96, 112, 150):
        m = FaceRecEmotion(work=work)
        params = sum(p.numel() for p in m.parameters())
        trainable = sum(p.numel() for p in m.parameters() if p.requires_grad)
        print(f"work {work:>3}px: {params:,} parameters ({trainable:,} trainable), "
              f"{count_macs(m, 44) / 1e6:.1f} M MACs per pass")


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("command", choices=["check", "info"])
    p.add_argument("--count", type=int, default=8)
    p.add_argument("--tolerance", type=float, default=1e-3)
    a = p.parse_args(argv)
    if a.command == "info":
        info()
    elif check(a.count) > a.tolerance:
        sys.exit(f"error: torch and face-api descriptors differ by more than {a.tolerance}")


if __name__ == "__main__":
    main()
