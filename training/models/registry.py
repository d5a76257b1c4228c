"""Model registry: every architecture is built by name (``create_model("emolens_vgg")``), timm-style.

Each entry takes a 1-channel face crop and returns 7 logits in EMOTIONS order; the training loop knows
nothing about any one of them. Add a model by writing a builder and decorating it with @register.
"""
from __future__ import annotations

from typing import Callable

import torch
from torch import nn

from ..errors import UsageError
from .facerec import FaceRecEmotion

REGISTRY: dict[str, Callable[..., nn.Module]] = {}


def register(fn: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
    REGISTRY[fn.__name__] = fn
    return fn


def create_model(name: str, num_classes: int = 7, **kwargs) -> nn.Module:
    if name not in REGISTRY:
        raise UsageError(f"unknown architecture {name!r}; known: {', '.join(sorted(REGISTRY))}")
    return REGISTRY[name](num_classes=num_classes, **kwargs)


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


def conv_relu(cin: int, cout: int) -> list[nn.Module]:  # conv_bn after export: batch norm folded into the conv
    return [nn.Conv2d(cin, cout, 3, padding=1), nn.ReLU(inplace=True)]


class EmolensVGG(nn.Module):
    """Four stages of two 3x3 conv-BN-ReLU layers (width doubling, 2x2 max pool between stages),
    global average + max pooling, dropout and one linear layer. Works at any input size >= 32 px."""

    def __init__(self, widths=(32, 64, 128, 256), num_classes: int = 7, dropout: float = 0.4, batch_norm: bool = True):
        super().__init__()
        layers: list[nn.Module] = []
        cin = 1
        block = conv_bn if batch_norm else conv_relu
        for i, w in enumerate(widths):
            if i:
                layers.append(nn.MaxPool2d(2))
            layers += block(cin, w) + block(w, w)
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
def emolens_vgg_folded(num_classes: int = 7) -> nn.Module:
    """emolens_vgg as it ships (batch norm folded into the convs): `python3 -m training from-onnx` rebuilds a shipped
    model's checkpoint in it, so a run can warm-start from a model whose training checkpoint is gone."""
    return EmolensVGG((32, 64, 128, 256), num_classes, batch_norm=False)


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


@register
def emolens_vgg_tiny_folded(num_classes: int = 7) -> nn.Module:
    """emolens_vgg_tiny as it ships (batch norm folded), for `python3 -m training from-onnx`."""
    return EmolensVGG((16, 32, 64, 128), num_classes, batch_norm=False)


# --- seed 001: a 12-layer CNN (~66 % val in its paper) ---
# The paper counts 12 layers; we read that as 12 weight layers: 9 convolutions (3 blocks of three 3x3 conv-BN-ReLU
# with 32/64/128 filters, "same" padding, 2x2 max pool and dropout 0.25 after each block) and 3 dense layers
# (256, 128, 7). Block widths, batch norm and dropout rates are our choices where the description is silent
# (docs/zoo.md lists them).

def conv_bn_act(cin: int, cout: int, act: type[nn.Module] = nn.ReLU, padding: int = 1) -> list[nn.Module]:
    return [nn.Conv2d(cin, cout, 3, padding=padding, bias=False), nn.BatchNorm2d(cout), act()]


@register
def seed001_cnn12(num_classes: int = 7) -> nn.Module:
    """Only defined for 48x48 input (the dense head sees a fixed 6x6x128 map)."""
    layers: list[nn.Module] = []
    cin = 1
    for width in (32, 64, 128):
        layers += conv_bn_act(cin, width) + conv_bn_act(width, width) + conv_bn_act(width, width)
        layers += [nn.MaxPool2d(2), nn.Dropout(0.25)]
        cin = width
    return nn.Sequential(
        *layers, nn.Flatten(),
        nn.Linear(6 * 6 * 128, 256), nn.ReLU(inplace=True), nn.Dropout(0.5),
        nn.Linear(256, 128), nn.ReLU(inplace=True), nn.Dropout(0.5),
        nn.Linear(128, num_classes),
    )


# --- seed 003: the GELU CNN with 128-256-512-512 filters (~51 % val in its paper) ---
# Four blocks of one 3x3 convolution (128, 256, 512, 512 filters, valid padding as in the Keras original it follows),
# GELU, 2x2 max pool and dropout 0.4; then dense 512 and 256 (GELU, dropout 0.4/0.3) and the 7-way output.
# 48 -> 46 -> 23 -> 21 -> 10 -> 8 -> 4 -> 2 -> 1, so the head sees 512 values. Batch norm after each convolution is
# our addition (the description does not say; it makes a short budget trainable).

@register
def seed003_gelu_cnn(num_classes: int = 7) -> nn.Module:
    """Only defined for 48x48 input."""
    layers: list[nn.Module] = []
    cin = 1
    for width in (128, 256, 512, 512):
        layers += conv_bn_act(cin, width, nn.GELU, padding=0) + [nn.MaxPool2d(2), nn.Dropout(0.4)]
        cin = width
    return nn.Sequential(
        *layers, nn.Flatten(),
        nn.Linear(512, 512), nn.GELU(), nn.Dropout(0.4),
        nn.Linear(512, 256), nn.GELU(), nn.Dropout(0.3),
        nn.Linear(256, num_classes),
    )


# --- seed 000: MobileNet transfer learning; here MobileNetV2 (Sandler et al. 2018) trained from scratch ---
# ImageNet weights cannot be fetched here and /usr/bin/python3 has no torchvision, so the net is written out below
# (torchvision's layout: inverted residuals [t, c, n, s], width 1.0, 1280-channel last conv) and starts from random
# weights. Adapted to 48x48 grayscale: a 1-channel stem with stride 1 instead of 2 (total stride 16, a 3x3 last map).

class InvertedResidual(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int, expand: int):
        super().__init__()
        hidden = cin * expand
        layers: list[nn.Module] = []
        if expand != 1:
            layers += [nn.Conv2d(cin, hidden, 1, bias=False), nn.BatchNorm2d(hidden), nn.ReLU6(inplace=True)]
        layers += [
            nn.Conv2d(hidden, hidden, 3, stride, 1, groups=hidden, bias=False), nn.BatchNorm2d(hidden),
            nn.ReLU6(inplace=True),
            nn.Conv2d(hidden, cout, 1, bias=False), nn.BatchNorm2d(cout),
        ]
        self.body = nn.Sequential(*layers)
        self.residual = stride == 1 and cin == cout

    def forward(self, x):
        return x + self.body(x) if self.residual else self.body(x)


MOBILENET_V2_SETTINGS = [(1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1),
                         (6, 160, 3, 2), (6, 320, 1, 1)]


@register
def seed000_mobilenet_v2(num_classes: int = 7) -> nn.Module:
    layers: list[nn.Module] = [nn.Conv2d(1, 32, 3, 1, 1, bias=False), nn.BatchNorm2d(32), nn.ReLU6(inplace=True)]
    cin = 32
    for expand, cout, repeats, stride in MOBILENET_V2_SETTINGS:
        for i in range(repeats):
            layers.append(InvertedResidual(cin, cout, stride if i == 0 else 1, expand))
            cin = cout
    layers += [nn.Conv2d(cin, 1280, 1, bias=False), nn.BatchNorm2d(1280), nn.ReLU6(inplace=True),
               nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(0.2), nn.Linear(1280, num_classes)]
    return nn.Sequential(*layers)


# --- pretrained: dlib's face-recognition ResNet (public domain, shipped by @vladmandic/face-api), fine-tuned ---
# facerec.py holds the port (checked against face-api: `python3 -m training.models.facerec check`). The name says
# the in-graph working size; the stem stays at its face-recognition weights. All facerec* share one state dict, so
# `train --init` moves weights between working sizes.

@register
def facerec96(num_classes: int = 7) -> nn.Module:
    return FaceRecEmotion(num_classes, work=96)


@register
def facerec56(num_classes: int = 7) -> nn.Module:  # 27.7 M MACs: the fast model's budget is 30 M
    return FaceRecEmotion(num_classes, work=56)
