"""What the training loop, the distillation tools, the exporter and the model ports share, in one place.

Owns: the label order of every emolens model (EMOTIONS), the model contract's input preprocessing as the loop and the
exporter apply it (normalise, then centre crop), a net's flip-averaged probabilities on uint8 faces, the device a
--device flag names, reading a checkpoint, and counting a net's parameters and MACs. It imports nothing of training/
but errors.py, so any module may import it without an import cycle.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .errors import UsageError

# Output order of every emolens model. Alphabetical, and the same in Node, the browser and here.
EMOTIONS = ["angry", "disgust", "fear", "happy", "neutral", "sad", "surprise"]


def normalize(x_uint8: torch.Tensor, mean: float, std: float) -> torch.Tensor:
    return (x_uint8.float().unsqueeze(1) / 255.0 - mean) / std


def center_crop(x: torch.Tensor, size: int) -> torch.Tensor:
    h, w = x.shape[-2:]
    top, left = (h - size) // 2, (w - size) // 2
    return x[..., top:top + size, left:left + size]


@torch.no_grad()
def predict(model, x: np.ndarray, cfg, mean: float, std: float, batch: int = 512) -> np.ndarray:
    """Probabilities for uint8 images (N,48,48): centre crop, optional flip averaging, on the model's device."""
    model.eval()
    device = next(model.parameters()).device
    out = []
    for i in range(0, len(x), batch):
        xb = center_crop(normalize(torch.from_numpy(x[i:i + batch]).to(device), mean, std), cfg.input_size)
        xb = xb.contiguous(memory_format=torch.channels_last)
        p = F.softmax(model(xb), 1)
        if cfg.tta == "hflip":
            p = (p + F.softmax(model(xb.flip(3)), 1)) / 2
        out.append(p.float().cpu())
    return torch.cat(out).numpy()


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise UsageError(f"--device {name}: PyTorch sees no CUDA device here")
    return device


def load_checkpoint(path) -> dict:
    """A checkpoint of this project (a dict with the config and history beside the tensors), on the CPU whatever
    device wrote it; weights_only=False because PyTorch >= 2.6 refuses such dicts by default (and 1.13's weights-only
    reader cannot read floats)."""
    return torch.load(path, map_location="cpu", weights_only=False)


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def count_macs(model: nn.Module, input_size: int) -> int:
    """Multiply-accumulates of one forward pass (conv and linear layers), counted with hooks."""
    macs = 0

    def conv_hook(m: nn.Conv2d, _inp, out):
        nonlocal macs
        kh, kw = m.kernel_size
        macs += out.numel() * (m.in_channels // m.groups) * kh * kw

    def linear_hook(m: nn.Linear, _inp, out):
        nonlocal macs
        macs += out.numel() * m.in_features

    hooks = [m.register_forward_hook(conv_hook) for m in model.modules() if isinstance(m, nn.Conv2d)]
    hooks += [m.register_forward_hook(linear_hook) for m in model.modules() if isinstance(m, nn.Linear)]
    was_training = model.training
    model.eval()
    with torch.no_grad():
        model(torch.zeros(1, 1, input_size, input_size, device=next(model.parameters()).device))
    model.train(was_training)
    for h in hooks:
        h.remove()
    return macs
