"""Model registry: every architecture is built by name (``create_model("emolens_vgg")``), timm-style.

Each entry takes a 1-channel face crop and returns 7 logits in EMOTIONS order; the training loop knows
nothing about any one of them. Add a model by writing a builder and decorating it with @register.
"""
from __future__ import annotations

from typing import Callable

import torch
from torch import nn

from .errors import UsageError

REGISTRY: dict[str, Callable[..., nn.Module]] = {}


def register(fn: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
    REGISTRY[fn.__name__] = fn
    return fn


def create_model(name: str, num_classes: int = 7, **kwargs) -> nn.Module:
    if name not in REGISTRY:
        raise UsageError(f"unknown architecture {name!r}; known: {', '.join(sorted(REGISTRY))}")
    return REGISTRY[name](num_classes=num_classes, **kwargs)


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
        model(torch.zeros(1, 1, input_size, input_size))
    model.train(was_training)
    for h in hooks:
        h.remove()
    return macs


# --- seed 002: the 4-block Keras CNN (Conv 32/64/128/128 + Dense 1024), 2,345,607 parameters at 48x48 ---

@register
def seed002_cnn(num_classes: int = 7) -> nn.Module:
    """Valid-padded convolutions as in the Keras original; only defined for 48x48 input."""
    return nn.Sequential(
        nn.Conv2d(1, 32, 3), nn.ReLU(inplace=True),
        nn.Conv2d(32, 64, 3), nn.ReLU(inplace=True),
        nn.MaxPool2d(2), nn.Dropout(0.25),
        nn.Conv2d(64, 128, 3), nn.ReLU(inplace=True), nn.MaxPool2d(2),
        nn.Conv2d(128, 128, 3), nn.ReLU(inplace=True), nn.MaxPool2d(2), nn.Dropout(0.25),
        nn.Flatten(),
        nn.Linear(4 * 4 * 128, 1024), nn.ReLU(inplace=True), nn.Dropout(0.5),
        nn.Linear(1024, num_classes),
    )


# --- mini-Xception (Arriaga et al. 2017, "Real-time CNNs for emotion and gender classification") ---

class SeparableConv(nn.Sequential):
    def __init__(self, cin: int, cout: int):
        super().__init__(
            nn.Conv2d(cin, cin, 3, padding=1, groups=cin, bias=False),
            nn.Conv2d(cin, cout, 1, bias=False),
        )


class XceptionModule(nn.Module):
    def __init__(self, cin: int, cout: int):
        super().__init__()
        self.shortcut = nn.Sequential(nn.Conv2d(cin, cout, 1, stride=2, bias=False), nn.BatchNorm2d(cout))
        self.body = nn.Sequential(
            SeparableConv(cin, cout), nn.BatchNorm2d(cout), nn.ReLU(inplace=True),
            SeparableConv(cout, cout), nn.BatchNorm2d(cout),
            nn.MaxPool2d(3, stride=2, padding=1),
        )

    def forward(self, x):
        return self.body(x) + self.shortcut(x)


@register
def mini_xception(num_classes: int = 7) -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(1, 8, 3, bias=False), nn.BatchNorm2d(8), nn.ReLU(inplace=True),
        nn.Conv2d(8, 8, 3, bias=False), nn.BatchNorm2d(8), nn.ReLU(inplace=True),
        XceptionModule(8, 16), XceptionModule(16, 32), XceptionModule(32, 64), XceptionModule(64, 128),
        nn.Conv2d(128, num_classes, 3, padding=1),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(),
    )


# --- emolens: a VGG-style net with batch norm, global pooling and a small head ---

def conv_bn(cin: int, cout: int) -> list[nn.Module]:
    return [nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)]


class EmolensVGG(nn.Module):
    """Four stages of two 3x3 conv-BN-ReLU layers (width doubling, 2x2 max pool between stages),
    global average + max pooling, dropout and one linear layer. Works at any input size >= 32 px."""

    def __init__(self, widths=(32, 64, 128, 256), num_classes: int = 7, dropout: float = 0.4):
        super().__init__()
        layers: list[nn.Module] = []
        cin = 1
        for i, w in enumerate(widths):
            if i:
                layers.append(nn.MaxPool2d(2))
            layers += conv_bn(cin, w) + conv_bn(w, w)
            cin = w
        self.features = nn.Sequential(*layers)
        self.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(2 * cin, num_classes))

    def forward(self, x):
        x = self.features(x)
        x = torch.cat([x.mean((2, 3)), x.amax((2, 3))], dim=1)
        return self.head(x)


@register
def emolens_vgg(num_classes: int = 7) -> nn.Module:
    return EmolensVGG((32, 64, 128, 256), num_classes)


@register
def emolens_vgg_wide(num_classes: int = 7) -> nn.Module:
    return EmolensVGG((48, 96, 192, 384), num_classes)


@register
def emolens_vgg_small(num_classes: int = 7) -> nn.Module:
    return EmolensVGG((24, 48, 96, 192), num_classes)


@register
def emolens_vgg_tiny(num_classes: int = 7) -> nn.Module:
    """The fast model's student: a quarter of emolens_vgg's MACs (23.5 M at 44 px, one pass)."""
    return EmolensVGG((16, 32, 64, 128), num_classes)
