"""Batched, on-tensor augmentation: one affine warp per sample via affine_grid/grid_sample.

Working on whole batches keeps augmentation cheap next to the network on a 2-core CPU, where a
per-image PIL pipeline would cost as much as the convolutions.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F


def random_affine(x: torch.Tensor, rotate_deg: float, zoom: float, shift: float, shear_deg: float, flip: bool) -> torch.Tensor:
    """Warp each image (N,1,H,W) by a random rotation, zoom, shift, shear and horizontal flip."""
    n = x.shape[0]
    dev = x.device
    u = lambda: torch.rand(n, device=dev) * 2 - 1  # noqa: E731  uniform in [-1, 1]
    angle = u() * math.radians(rotate_deg)
    scale = 1 + u() * zoom
    shear = u() * math.radians(shear_deg)
    tx, ty = u() * shift * 2, u() * shift * 2  # grid coordinates span 2 units
    sign = torch.where(torch.rand(n, device=dev) < 0.5, -1.0, 1.0) if flip else torch.ones(n, device=dev)
    cos, sin = torch.cos(angle), torch.sin(angle)
    # Output->input mapping: rotation @ shear, divided by zoom, then a mirror of x.
    a = (cos - sin * torch.tan(shear)) / scale
    b = -sin / scale
    c = (sin + cos * torch.tan(shear)) / scale
    d = cos / scale
    theta = torch.stack([
        torch.stack([a * sign, b, tx], 1),
        torch.stack([c * sign, d, ty], 1),
    ], 1)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)


def random_crop(x: torch.Tensor, size: int) -> torch.Tensor:
    """One random size x size window per batch row."""
    n, _, h, w = x.shape
    if size == h and size == w:
        return x
    dev = x.device
    top = torch.randint(0, h - size + 1, (n,), device=dev)
    left = torch.randint(0, w - size + 1, (n,), device=dev)
    rows = (top[:, None] + torch.arange(size, device=dev))[:, None, :, None]
    cols = (left[:, None] + torch.arange(size, device=dev))[:, None, None, :]
    return x[torch.arange(n, device=dev)[:, None, None, None], torch.zeros(1, dtype=torch.long, device=dev)[:, None, None],
             rows, cols]


def random_erasing(x: torch.Tensor, p: float, area=(0.02, 0.2)) -> torch.Tensor:
    """Zero (the normalised mean) a random rectangle in a fraction p of the images (Zhong et al. 2020): area a
    fraction of the image, aspect ratio log-uniform in 0.3..3.3; a rectangle that would not fit is skipped.
    One mask for the whole batch, so it costs a few tensor ops on any device instead of a loop over images."""
    n, _, h, w = x.shape
    dev = x.device
    a = torch.empty(n, device=dev).uniform_(*area) * h * w
    ratio = torch.exp(torch.empty(n, device=dev).uniform_(math.log(0.3), math.log(3.3)))
    eh, ew = torch.round(torch.sqrt(a * ratio)), torch.round(torch.sqrt(a / ratio))
    on = (torch.rand(n, device=dev) < p) & (eh > 0) & (eh < h) & (ew > 0) & (ew < w)
    top = torch.floor(torch.rand(n, device=dev) * (h - eh + 1))
    left = torch.floor(torch.rand(n, device=dev) * (w - ew + 1))
    ys, xs = torch.arange(h, device=dev).view(1, h, 1), torch.arange(w, device=dev).view(1, 1, w)
    inside = (ys >= top.view(n, 1, 1)) & (ys < (top + eh).view(n, 1, 1)) & \
        (xs >= left.view(n, 1, 1)) & (xs < (left + ew).view(n, 1, 1))
    return x.masked_fill((inside & on.view(n, 1, 1)).unsqueeze(1), 0.0)


def mix(x: torch.Tensor, y: torch.Tensor, mode: str, alpha: float):
    """mixup or cutmix: returns mixed x, the two targets and the weight of the first."""
    lam = torch.distributions.Beta(alpha, alpha).sample().item()
    perm = torch.randperm(x.shape[0], device=x.device)
    if mode == "mixup":
        return lam * x + (1 - lam) * x[perm], y, y[perm], lam
    h, w = x.shape[-2:]
    ch, cw = int(h * math.sqrt(1 - lam)), int(w * math.sqrt(1 - lam))
    cy, cx = torch.randint(0, h, (1,)).item(), torch.randint(0, w, (1,)).item()
    t, b = max(cy - ch // 2, 0), min(cy + ch // 2, h)
    l, r = max(cx - cw // 2, 0), min(cx + cw // 2, w)
    x = x.clone()
    x[:, :, t:b, l:r] = x[perm, :, t:b, l:r]
    lam = 1 - (b - t) * (r - l) / (h * w)
    return x, y, y[perm], lam


def random_photometric(x: torch.Tensor, contrast: float, brightness: float, blur_prob: float) -> torch.Tensor:
    """Per-sample contrast and brightness jitter (in normalised units) and, for a fraction of the batch, a
    3x3 Gaussian blur: photos are lit, exposed and focused differently from FER2013's crops."""
    n = x.shape[0]
    dev = x.device
    c = 1 + (torch.rand(n, 1, 1, 1, device=dev) * 2 - 1) * contrast
    b = (torch.rand(n, 1, 1, 1, device=dev) * 2 - 1) * brightness
    mean = x.mean((2, 3), keepdim=True)
    x = (x - mean) * c + mean + b
    if blur_prob > 0:
        k = torch.tensor([1.0, 2.0, 1.0], device=dev)
        k = (k[:, None] * k[None, :] / 16).view(1, 1, 3, 3)
        blurred = F.conv2d(F.pad(x, (1, 1, 1, 1), mode="replicate"), k)
        pick = (torch.rand(n, 1, 1, 1, device=dev) < blur_prob).float()
        x = pick * blurred + (1 - pick) * x
    return x
