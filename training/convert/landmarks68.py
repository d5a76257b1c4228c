"""face-api's 68-point landmark net (FaceLandmark68Net) rebuilt in torch from its weights, exported to ONNX.

    /usr/bin/python3 -m training.convert.landmarks68 \
        --manifest node_modules/@vladmandic/face-api/model/face_landmark_68_model-weights_manifest.json \
        --out models/face-landmarks68.onnx

face-api ships this net as a weights manifest (no graph): the network is its code, src/faceFeatureExtractor/ and
src/faceLandmarkNet/ in @vladmandic/face-api (MIT). Rebuilt here exactly: four dense blocks (dense0: a 3x3 conv
with stride 2, then three depthwise-separable 3x3 convs whose outputs are summed dense-style; dense1..3: the same
with a separable stride-2 conv first), TF 'SAME' padding (tfjs.py's conv_same), a 7x7 average pool
(stride 2, 'valid') and a 256 -> 136 fully connected layer. Weights are read and dequantised by tfjs.py.

The ONNX model: input `input` [N,3,112,112] float32 RGB, already normalised as x / 255 - mean (the sidecar's
preprocess), the face box padded to a square (centred, zeros) and resized to 112; output `landmarks` [N,136]:
x0, y0, x1, y1, ... as fractions of the padded square. scripts/verify-landmarks68.ts checks it against face-api
itself. Needs torch and numpy only.
"""
import argparse
import json
import os
import sys
import warnings

import torch
import torch.nn.functional as F

from ..sidecar import sha256, write_sidecar
from .tfjs import conv_same, read_weights

OPSET = 13
INPUT_SIZE = 112
# face-api's FaceFeatureExtractor: x - meanRgb, then / 255 (RGB order).
MEAN_RGB = [122.782, 117.001, 104.298]


class SeparableConv(torch.nn.Module):
    """tf.separableConv2d(x, depthwise, pointwise, stride, 'same') + bias."""

    def __init__(self, weights, prefix, in_hw, stride):
        super().__init__()
        dw = weights[f"{prefix}/depthwise_filter"]           # [3, 3, C, 1]
        pw = weights[f"{prefix}/pointwise_filter"]           # [1, 1, C, O]
        self.depthwise = torch.nn.Parameter(torch.from_numpy(dw.transpose(2, 3, 0, 1).copy()), requires_grad=False)
        self.pointwise = torch.nn.Parameter(torch.from_numpy(pw.transpose(3, 2, 0, 1).copy()), requires_grad=False)
        self.bias = torch.nn.Parameter(torch.from_numpy(weights[f"{prefix}/bias"].copy()), requires_grad=False)
        self.in_hw, self.stride, self.channels = in_hw, stride, dw.shape[2]

    def forward(self, x):
        y = conv_same(x, self.in_hw, self.depthwise, (3, 3), None, (self.stride, self.stride), (1, 1), groups=self.channels)
        return F.conv2d(y, self.pointwise, self.bias)


class FullConv(torch.nn.Module):
    """tf.conv2d(x, filters, stride, 'same') + bias (dense0's first layer)."""

    def __init__(self, weights, prefix, in_hw, stride):
        super().__init__()
        self.weight = torch.nn.Parameter(torch.from_numpy(weights[f"{prefix}/filters"].transpose(3, 2, 0, 1).copy()), requires_grad=False)
        self.bias = torch.nn.Parameter(torch.from_numpy(weights[f"{prefix}/bias"].copy()), requires_grad=False)
        self.in_hw, self.stride = in_hw, stride

    def forward(self, x):
        return conv_same(x, self.in_hw, self.weight, (3, 3), self.bias, (self.stride, self.stride), (1, 1))


class DenseBlock4(torch.nn.Module):
    """face-api's denseBlock4: out1 = relu(conv0(x)); each next conv sees relu(sum of all outputs so far)."""

    def __init__(self, weights, prefix, in_hw, first):
        super().__init__()
        out_hw = (-(-in_hw[0] // 2), -(-in_hw[1] // 2))
        self.conv0 = (FullConv if first else SeparableConv)(weights, f"{prefix}/conv0", in_hw, 2)
        self.convs = torch.nn.ModuleList(SeparableConv(weights, f"{prefix}/conv{i}", out_hw, 1) for i in (1, 2, 3))
        self.out_hw = out_hw

    def forward(self, x):
        total = F.relu(self.conv0(x))
        for conv in self.convs:
            total = total + conv(F.relu(total) if conv is not self.convs[0] else total)
        return F.relu(total)


class FaceLandmark68Net(torch.nn.Module):
    def __init__(self, weights):
        super().__init__()
        hw = (INPUT_SIZE, INPUT_SIZE)
        blocks = []
        for i in range(4):
            block = DenseBlock4(weights, f"dense{i}", hw, first=(i == 0))
            blocks.append(block)
            hw = block.out_hw
        self.blocks = torch.nn.ModuleList(blocks)
        self.fc_weight = torch.nn.Parameter(torch.from_numpy(weights["fc/weights"].copy()), requires_grad=False)  # [256, 136]
        self.fc_bias = torch.nn.Parameter(torch.from_numpy(weights["fc/bias"].copy()), requires_grad=False)

    def forward(self, x):
        for block in self.blocks:
            x = block(x)
        x = F.avg_pool2d(x, 7, 2)                    # 7x7 -> 1x1 ('valid')
        return x.flatten(1) @ self.fc_weight + self.fc_bias


def load_net(manifest_path):
    manifest = json.load(open(manifest_path))
    return FaceLandmark68Net(read_weights(manifest_path, manifest)).eval()


def count_macs(net):
    macs = 0

    def hook(module, inputs, output):
        nonlocal macs
        if isinstance(module, SeparableConv):
            dw_out = output.shape[2] * output.shape[3] * module.channels
            macs += dw_out * 9 + output[0].numel() * module.channels
        elif isinstance(module, FullConv):
            macs += output[0].numel() * module.weight[0].numel()

    handles = [m.register_forward_hook(hook) for m in net.modules() if isinstance(m, (SeparableConv, FullConv))]
    with torch.no_grad():
        net(torch.zeros(1, 3, INPUT_SIZE, INPUT_SIZE))
    for h in handles:
        h.remove()
    return macs + 256 * 136


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--manifest", default="node_modules/@vladmandic/face-api/model/face_landmark_68_model-weights_manifest.json")
    parser.add_argument("--out", default="models/face-landmarks68.onnx")
    args = parser.parse_args(argv)

    net = load_net(args.manifest)
    dummy = torch.zeros(2, 3, INPUT_SIZE, INPUT_SIZE)
    warnings.filterwarnings("ignore", category=UserWarning, module=r"torch\.onnx")
    torch.onnx.export(net, dummy, args.out, opset_version=OPSET, input_names=["input"], output_names=["landmarks"],
                      dynamic_axes={"input": {0: "batch"}, "landmarks": {0: "batch"}}, do_constant_folding=True)
    params = sum(p.numel() for p in net.parameters())
    print(f"wrote {args.out}: {os.path.getsize(args.out)} bytes, {params} parameters, {count_macs(net)} MACs per face")

    package_json = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(args.manifest))), "package.json")
    version = json.load(open(package_json)).get("version", "?") if os.path.exists(package_json) else "?"
    sidecar = {
        "format": "emolens-model/1",
        "name": os.path.splitext(os.path.basename(args.out))[0],
        "task": "face-landmarks",
        "input": {"name": "input", "layout": "NCHW", "channels": 3, "height": INPUT_SIZE, "width": INPUT_SIZE,
                  "dtype": "float32", "dynamicBatch": True, "colorOrder": "RGB"},
        "preprocess": {
            "crop": "the detector's face box, clipped to the image, padded to a square with zeros (centred), "
                    "resized bilinearly to 112x112 — as face-api crops a detection for this net",
            "scale": 1 / 255, "mean": [m / 255 for m in MEAN_RGB], "std": [1, 1, 1],
            "note": "x' = (x * scale - mean) / std = (x - meanRgb) / 255, as face-api's FaceFeatureExtractor",
        },
        "output": {"name": "landmarks", "shape": ["N", 136],
                   "layout": "x0, y0, x1, y1, ... for the 68 iBUG-300W points, fractions of the padded square"},
        "points": 68,
        "pointGroups": {"jaw": [0, 16], "rightBrow": [17, 21], "leftBrow": [22, 26], "noseBridge": [27, 30],
                        "noseBase": [31, 35], "rightEye": [36, 41], "leftEye": [42, 47], "outerLips": [48, 59],
                        "innerLips": [60, 67]},
        "pointGroupsNote": "iBUG 300-W order, inclusive ranges; 'right' is the subject's right (image left)",
        "parameters": params,
        "macs": count_macs(net),
        "sha256": sha256(args.out),
        "provenance": f"face-api's FaceLandmark68Net (Vincent Mühler, face-api.js; MIT) weights as shipped in "
                      f"@vladmandic/face-api {version} model/face_landmark_68_model (MIT), rebuilt in torch and "
                      "exported by training/convert/landmarks68.py",
        "license": "MIT",
        "conversion": {"tool": "training/convert/landmarks68.py", "opset": OPSET, "torch": torch.__version__,
                       "source": os.path.relpath(args.manifest), "sourceSha256": sha256(args.manifest),
                       "weightsSha256": sha256(os.path.join(os.path.dirname(args.manifest), "face_landmark_68_model.bin")),
                       "verify": "node --import tsx scripts/verify-landmarks68.ts"},
    }
    print(f"wrote {write_sidecar(args.out, sidecar)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
