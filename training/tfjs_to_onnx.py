"""Convert the BlazeFace TF.js graph model shipped in @vladmandic/human to ONNX (+ its emolens sidecar).

    /usr/bin/python3 training/tfjs_to_onnx.py \
        --graph node_modules/@vladmandic/human/models/blazeface.json --out models/blazeface.onnx

How: parse the graph JSON, read every weight from the .bin shards by the weightsManifest (dequantizing where
the manifest says so), then build a torch module that walks the graph node by node (training/tfjs.py, shared
with training/pretrained.py) and trace it with torch.onnx.export. The module keeps activations NCHW; TF's
NHWC only matters where the graph reshapes (the detection heads), and there we transpose back to NHWC first
so anchor order is TF's.

Only the ops training/tfjs.py knows are supported (its OPS); anything else stops the conversion with its name.
The ONNX model has one input `input` [N,3,H,W] float32 (already normalised to [-1, 1]; 256x256 as trained, or any
multiples of 32: the heads reshape to [N, -1, k], so a larger input is a larger grid) and two outputs in
MediaPipe's order — 16x16 grid anchors (512) first, then 8x8 (384) at 256x256:
    regressors      [N,896,16]  box (cx, cy, w, h) + 6 keypoints (x, y), in input pixels, relative to the anchor
    classificators  [N,896,1]   score logit
Needs torch (1.13 tested) and numpy only.
"""
import argparse
import json
import os
import sys
import warnings

import torch

if __package__:
    from .sidecar import sha256, write_sidecar
    from .tfjs import TfjsGraph, read_weights
else:  # run as a script: training/ itself is on sys.path
    from sidecar import sha256, write_sidecar
    from tfjs import TfjsGraph, read_weights

OPSET = 13
INPUT_SIZE = 256


class BlazeFaceOnnx(torch.nn.Module):
    """NCHW input, MediaPipe-ordered outputs: the graph's four head tensors concatenated per kind."""

    def __init__(self, graph):
        super().__init__()
        self.graph = graph
        # Each head is [N, anchors, 1] (scores) or [N, anchors, 16] (regressors); more anchors = finer grid = first.
        shapes = list(graph.output_shapes.values())
        by_anchors = sorted(range(len(shapes)), key=lambda i: -shapes[i][1])
        self.score_heads = [i for i in by_anchors if shapes[i][2] == 1]
        self.box_heads = [i for i in by_anchors if shapes[i][2] != 1]

    def forward(self, x):
        heads = self.graph(x)
        return torch.cat([heads[i] for i in self.box_heads], 1), torch.cat([heads[i] for i in self.score_heads], 1)


# ---------------------------------------------------------------- main

def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--graph", default="node_modules/@vladmandic/human/models/blazeface.json")
    parser.add_argument("--out", default="models/blazeface.onnx")
    args = parser.parse_args(argv)

    graph = json.load(open(args.graph))
    weights = read_weights(args.graph, graph["weightsManifest"])
    model = BlazeFaceOnnx(TfjsGraph(graph, weights)).eval()
    if model.graph.placeholder_hw() != (INPUT_SIZE, INPUT_SIZE):
        sys.exit(f"error: expected a {INPUT_SIZE}x{INPUT_SIZE} input, the graph has {model.graph.placeholder_hw()}")
    shapes = model.graph.output_shapes
    for name, shape in shapes.items():
        print(f"{name}: {shape}")

    dummy = torch.zeros(2, 3, INPUT_SIZE, INPUT_SIZE)
    # torch 1.13 exports F.pad's constant pads through a small Slice/Reshape subgraph it cannot fold itself
    # (and says so); ONNX Runtime folds it when the session loads, so the noise is silenced here.
    warnings.filterwarnings("ignore", category=UserWarning, module=r"torch\.onnx")
    torch.onnx.export(model, dummy, args.out, opset_version=OPSET, input_names=["input"],
                      output_names=["regressors", "classificators"],
                      dynamic_axes={"input": {0: "batch", 2: "height", 3: "width"},
                                    "regressors": {0: "batch", 1: "anchors"}, "classificators": {0: "batch", 1: "anchors"}},
                      do_constant_folding=True)
    params = sum(p.numel() for p in model.parameters())
    size = os.path.getsize(args.out)
    print(f"wrote {args.out}: {size} bytes, {params} float parameters")

    human_package = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(args.graph))), "package.json")
    human_version = json.load(open(human_package)).get("version", "?") if os.path.exists(human_package) else "?"
    sidecar = {
        "format": "emolens-model/1",
        "name": "blazeface",
        "task": "face-detection",
        "input": {"name": "input", "layout": "NCHW", "channels": 3, "height": INPUT_SIZE, "width": INPUT_SIZE,
                  "dtype": "float32", "dynamicBatch": True, "colorOrder": "RGB",
                  "dynamicSize": "height and width may be any multiples of 32 (larger views of a photo); "
                                 "256 x 256 is the size the network was trained at"},
        "preprocess": {
            "resize": "aspect kept, letterboxed into the square (padding pixel value 0); area average when shrinking",
            "scale": 1 / 255, "mean": [0.5, 0.5, 0.5], "std": [0.5, 0.5, 0.5],
            "note": "x' = (x * scale - mean) / std = x / 127.5 - 1, as @vladmandic/human 3.x feeds this graph",
        },
        "outputs": {
            "regressors": {"shape": ["N", 896, 16],
                           "anchorsAtOtherSizes": "(H/16)(W/16)*2 + (H/32)(W/32)*6, same order",
                           "layout": "per anchor: cx, cy, w, h, then 6 keypoints (x, y); input pixels; "
                                     "cx, cy and keypoints are offsets from the anchor centre"},
            "classificators": {"shape": ["N", 896, 1], "activation": "sigmoid gives the face score"},
        },
        "anchors": {"inputSize": INPUT_SIZE, "strides": [16, 32], "anchorsPerCell": [2, 6], "offset": 0.5,
                    "order": "stride by stride, row (y) by row, column (x), then the anchors of one cell",
                    "units": "input pixels"},
        # MediaPipe's order; which side is which was checked on photos (test/detect.test.ts)
        "keypoints": ["rightEye", "leftEye", "nose", "mouth", "rightEar", "leftEar"],
        "keypointsNote": "the subject's own sides: keypoint 0 (rightEye) lies on the image's left for a frontal face",
        "parameters": params,
        "sha256": sha256(args.out),
        "provenance": f"BlazeFace (MediaPipe, Apache-2.0) as shipped in @vladmandic/human {human_version} "
                      "models/blazeface.json (MIT), converted by training/tfjs_to_onnx.py",
        "license": "Apache-2.0",
        "conversion": {"tool": "training/tfjs_to_onnx.py", "opset": OPSET, "torch": torch.__version__,
                       "source": os.path.relpath(args.graph), "sourceSha256": sha256(args.graph),
                       "sourceOutputs": shapes},
    }
    print(f"wrote {write_sidecar(args.out, sidecar)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
