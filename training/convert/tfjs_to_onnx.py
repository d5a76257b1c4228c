"""Convert a BlazeFace-family TF.js graph model (MediaPipe's face detectors) to ONNX (+ its emolens sidecar).

    /usr/bin/python3 -m training.convert.tfjs_to_onnx     # models/blazeface.onnx from @vladmandic/human (the default)
    /usr/bin/python3 -m training.convert.tfjs_to_onnx --graph runs/hm/package/models/facemesh-detection-full.json \
        --outputs Identity --out runs/detectors/blazeface-full.onnx --title "BlazeFace full range, 192 px"

How: parse the graph JSON, read every weight from the .bin shards by the weightsManifest (dequantizing where
the manifest says so), then build a torch module that walks the graph node by node (tfjs.py, shared
with training/models/pretrained.py) and trace it with torch.onnx.export. The module keeps activations NCHW; TF's
NHWC only matters where the graph reshapes (the detection heads), and there we transpose back to NHWC first
so anchor order is TF's.

The heads are the graph's [1, anchors, k] Reshapes found by walking back from `--outputs` (default: every sink)
through Identity and ConcatV2 (MediaPipe's 2021 graphs concatenate scores and boxes into one [N, A, 17] output;
the full-range one also has a "person" output, which `--outputs Identity` leaves out). The anchor layout of the
sidecar is read from them: a head fed by an [H, W, C] map is a grid of stride input/H with C/k anchors per cell.

Only the ops tfjs.py knows are supported (its OPS); anything else stops the conversion with its name.
The ONNX model has one input `input` [N,3,H,W] float32 (already normalised to [-1, 1]; the graph's size as trained,
or any multiples of the network's total downsampling: the heads reshape to [N, -1, k], so a larger input is a larger
grid) and two outputs in MediaPipe's order, the finest grid's anchors first:
    regressors      [N,A,16]  box (cx, cy, w, h) + 6 keypoints (x, y), in input pixels, relative to the anchor
    classificators  [N,A,1]   score logit
Needs torch (1.13 tested) and numpy only.
"""
import argparse
import json
import os
import sys
import warnings

import torch

from ..sidecar import sha256, write_sidecar
from .tfjs import TfjsGraph, read_weights

OPSET = 13
BOX_COLUMNS = 16      # cx, cy, w, h + 6 keypoints: what src/detect decodes
KEYPOINTS = ["rightEye", "leftEye", "nose", "mouth", "rightEar", "leftEar"]   # MediaPipe's order


def face_heads(graph_json, outputs):
    """The Reshape nodes that the chosen outputs are made of, walking back through Identity and ConcatV2."""
    nodes = {n["name"]: n for n in graph_json["modelTopology"]["node"]}
    heads = []

    def walk(name):
        node = nodes[name.split(":")[0]]
        if node["op"] == "Reshape":
            heads.append(node["name"])
        elif node["op"] in ("Identity", "ConcatV2"):
            for i in node["input"]:
                if nodes[i.split(":")[0]]["op"] != "Const":
                    walk(i)
        else:
            raise ValueError(f"{name}: expected the heads' Reshape behind Identity/ConcatV2, found {node['op']}")

    for out in outputs:
        walk(out)
    return heads, [nodes[h]["input"][0].split(":")[0] for h in heads]


class BlazeFaceOnnx(torch.nn.Module):
    """NCHW input, MediaPipe-ordered outputs: the graph's head tensors concatenated per kind, finest grid first.

    The graph's outputs are the heads, then the maps that feed them (for the anchor layout; not exported)."""

    def __init__(self, graph, head_count):
        super().__init__()
        self.graph = graph
        self.head_count = head_count
        # Each head is [N, anchors, 1] (scores) or [N, anchors, 16] (regressors); more anchors = finer grid = first.
        shapes = list(graph.output_shapes.values())[:head_count]
        by_anchors = sorted(range(head_count), key=lambda i: -shapes[i][1])
        self.score_heads = [i for i in by_anchors if shapes[i][2] == 1]
        self.box_heads = [i for i in by_anchors if shapes[i][2] != 1]

    def forward(self, x):
        heads = self.graph(x)
        return torch.cat([heads[i] for i in self.box_heads], 1), torch.cat([heads[i] for i in self.score_heads], 1)

    def anchor_grids(self, input_size):
        """[(stride, anchors per cell)] per score head, in output order; the box heads must have the same grids."""
        shapes = list(self.graph.output_shapes.values())
        feeds = shapes[self.head_count:]

        def grid(i):
            _, channels, height, _ = feeds[i]           # NCHW map feeding head i
            return input_size // height, channels // shapes[i][2]

        scores = [grid(i) for i in self.score_heads]
        boxes = [grid(i) for i in self.box_heads]
        if scores != boxes:
            raise ValueError(f"score heads {scores} and box heads {boxes} disagree on the anchor grids")
        return scores


def size_multiple(graph, input_size):
    """The network's total downsampling: the input over the smallest map a conv, pool or resize sees."""
    return input_size // min(h for h, _ in graph.input_hw.values())


# ---------------------------------------------------------------- main

def package_of(graph_path):
    """The npm package a graph ships in (package.json two folders up: <pkg>/models/<graph>.json), or None."""
    path = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(graph_path))), "package.json")
    if not os.path.exists(path):
        return None
    with open(path) as f:
        return json.load(f)


def fail(message):
    sys.exit(f"error: {message}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--graph", default="node_modules/@vladmandic/human/models/blazeface.json",
                        help="TF.js model.json (its weight shards beside it)")
    parser.add_argument("--out", default="models/blazeface.onnx", help="the .onnx file; the sidecar goes beside it")
    parser.add_argument("--name", help="the sidecar's model name (default: the output's file name)")
    parser.add_argument("--outputs", help="comma-separated TF output nodes holding the face heads (default: every sink)")
    parser.add_argument("--title", default="BlazeFace", help="what the network is, for the provenance line")
    args = parser.parse_args(argv)

    if not os.path.exists(args.graph):
        fail(f"{args.graph} not found")
    with open(args.graph) as f:
        graph_json = json.load(f)
    weights = read_weights(args.graph, graph_json["weightsManifest"])
    try:
        sinks = TfjsGraph(graph_json, weights, outputs=args.outputs.split(",") if args.outputs else None)
        heads, feeds = face_heads(graph_json, sinks.outputs)
        model = BlazeFaceOnnx(TfjsGraph(graph_json, weights, outputs=heads + feeds), len(heads)).eval()
        height, width = model.graph.placeholder_hw()
        if height != width:
            fail(f"expected a square input, the graph has {height}x{width}")
        grids = model.anchor_grids(height)
    except ValueError as err:
        fail(str(err))
    shapes = {name: shape for name, shape in list(model.graph.output_shapes.items())[:len(heads)]}
    box_columns = {shapes[heads[i]][2] for i in model.box_heads}
    if box_columns != {BOX_COLUMNS}:
        fail(f"box heads have {sorted(box_columns)} columns, the decoder reads {BOX_COLUMNS} (box + 6 keypoints)")
    for name, shape in sinks.output_shapes.items():
        print(f"{name}: {shape}")
    input_size, multiple = height, size_multiple(model.graph, height)
    anchors = sum(shapes[heads[i]][1] for i in model.score_heads)
    strides, per_cell = [g[0] for g in grids], [g[1] for g in grids]
    print(f"anchors: {anchors} at {input_size} px, strides {strides}, {per_cell} per cell; sizes: multiples of {multiple}")

    dummy = torch.zeros(2, 3, input_size, input_size)
    # torch 1.13 exports F.pad's constant pads through a small Slice/Reshape subgraph it cannot fold itself
    # (and says so); ONNX Runtime folds it when the session loads, so the noise is silenced here.
    warnings.filterwarnings("ignore", category=UserWarning, module=r"torch\.onnx")
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    torch.onnx.export(model, dummy, args.out, opset_version=OPSET, input_names=["input"],
                      output_names=["regressors", "classificators"],
                      dynamic_axes={"input": {0: "batch", 2: "height", 3: "width"},
                                    "regressors": {0: "batch", 1: "anchors"}, "classificators": {0: "batch", 1: "anchors"}},
                      do_constant_folding=True)
    params = model.graph.used_parameters()
    size = os.path.getsize(args.out)
    print(f"wrote {args.out}: {size} bytes, {params} float parameters")

    package = package_of(args.graph) or {}
    shipped = (f"{package.get('name', '?')} {package.get('version', '?')} "
               f"{'/'.join(os.path.abspath(args.graph).split(os.sep)[-2:])} ({package.get('license', '?')})")
    at_other_sizes = " + ".join(f"(H/{s})(W/{s})*{n}" if n > 1 else f"(H/{s})(W/{s})" for s, n in grids)
    sidecar = {
        "format": "emolens-model/1",
        "name": args.name or os.path.splitext(os.path.basename(args.out))[0],
        "task": "face-detection",
        "input": {"name": "input", "layout": "NCHW", "channels": 3, "height": input_size, "width": input_size,
                  "dtype": "float32", "dynamicBatch": True, "colorOrder": "RGB",
                  "dynamicSize": f"height and width may be any multiples of {multiple} (larger views of a photo); "
                                 f"{input_size} x {input_size} is the size the network was trained at",
                  "sizeMultiple": multiple},
        "preprocess": {
            "resize": "aspect kept, letterboxed into the square (padding pixel value 0); area average when shrinking",
            "scale": 1 / 255, "mean": [0.5, 0.5, 0.5], "std": [0.5, 0.5, 0.5],
            "note": "x' = (x * scale - mean) / std = x / 127.5 - 1: MediaPipe's [-1, 1], as @vladmandic/human 3.x "
                    "feeds its BlazeFace graphs",
        },
        "outputs": {
            "regressors": {"shape": ["N", anchors, BOX_COLUMNS],
                           "anchorsAtOtherSizes": f"{at_other_sizes}, same order",
                           "layout": "per anchor: cx, cy, w, h, then 6 keypoints (x, y); input pixels; "
                                     "cx, cy and keypoints are offsets from the anchor centre"},
            "classificators": {"shape": ["N", anchors, 1], "activation": "sigmoid gives the face score"},
        },
        "anchors": {"inputSize": input_size, "strides": strides, "anchorsPerCell": per_cell, "offset": 0.5,
                    "order": "stride by stride, row (y) by row, column (x), then the anchors of one cell",
                    "units": "input pixels"},
        # MediaPipe's order; which side is which was checked on photos (test/detect.test.ts)
        "keypoints": KEYPOINTS,
        "keypointsNote": "the subject's own sides: keypoint 0 (rightEye) lies on the image's left for a frontal face",
        "parameters": params,
        "sha256": sha256(args.out),
        "provenance": f"{args.title} (MediaPipe, Apache-2.0) as shipped in {shipped}, "
                      "converted by training/convert/tfjs_to_onnx.py",
        "license": "Apache-2.0",
        "conversion": {"tool": "training/convert/tfjs_to_onnx.py", "opset": OPSET, "torch": torch.__version__,
                       "source": os.path.relpath(args.graph), "sourceSha256": sha256(args.graph),
                       "sourceOutputs": sinks.output_shapes},
    }
    print(f"wrote {write_sidecar(args.out, sidecar)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
