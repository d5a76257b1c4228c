"""Convert the BlazeFace TF.js graph model shipped in @vladmandic/human to ONNX (+ its emolens sidecar).

    /usr/bin/python3 training/tfjs_to_onnx.py \
        --graph node_modules/@vladmandic/human/models/blazeface.json --out models/blazeface.onnx

How: parse the graph JSON, read every weight from the .bin shards by the weightsManifest (dequantizing where
the manifest says so), then build a torch module that walks the graph node by node and trace it with
torch.onnx.export. The module keeps activations NCHW; TF's NHWC only matters where the graph reshapes
(the detection heads), and there we transpose back to NHWC first so anchor order is TF's.

Only the ops BlazeFace uses are supported (see OPS below); anything else stops the conversion with its name.
The ONNX model has one input `input` [N,3,256,256] float32 (already normalised to [-1, 1]) and two outputs in
MediaPipe's order — 16x16 grid anchors (512) first, then 8x8 (384):
    regressors      [N,896,16]  box (cx, cy, w, h) + 6 keypoints (x, y), in input pixels, relative to the anchor
    classificators  [N,896,1]   score logit
Needs torch (1.13 tested) and numpy only.
"""
import argparse
import base64
import hashlib
import json
import os
import sys
import warnings

import numpy as np
import torch
import torch.nn.functional as F

OPSET = 13
INPUT_SIZE = 256

# TF.js weight dtypes and the numpy types their bytes hold.
DTYPES = {"float32": np.float32, "int32": np.int32, "uint8": np.uint8, "uint16": np.uint16,
          "float16": np.float16, "bool": np.bool_}


# ---------------------------------------------------------------- reading the TF.js model

def decode_attr(value):
    """A TF AttrValue in TF.js JSON (bytes are base64) -> plain python."""
    if "s" in value:
        return base64.b64decode(value["s"]).decode()
    if "list" in value:
        lst = value["list"]
        if "s" in lst:
            return [base64.b64decode(s).decode() for s in lst["s"]]
        if "i" in lst:
            return [int(i) for i in lst["i"]]
        if "f" in lst:
            return [float(f) for f in lst["f"]]
        return []
    if "i" in value:
        return int(value["i"])
    if "f" in value:
        return float(value["f"])
    if "b" in value:
        return bool(value["b"])
    if "type" in value:
        return value["type"]
    return value


def read_weights(graph_path, manifest):
    """name -> numpy array, following the weightsManifest (shards are concatenated per group)."""
    folder = os.path.dirname(graph_path)
    weights = {}
    for group in manifest:
        buf = b"".join(open(os.path.join(folder, p), "rb").read() for p in group["paths"])
        offset = 0
        for spec in group["weights"]:
            shape = spec["shape"]
            count = int(np.prod(shape)) if shape else 1
            quant = spec.get("quantization")
            if quant:
                qtype = DTYPES[quant["dtype"]]
                raw = np.frombuffer(buf, qtype, count, offset)
                offset += count * np.dtype(qtype).itemsize
                if quant["dtype"] == "float16":
                    arr = raw.astype(np.float32)
                else:  # affine uint8/uint16: value = q * scale + min
                    arr = raw.astype(np.float32) * quant["scale"] + quant["min"]
                arr = arr.astype(DTYPES[spec["dtype"]])
            else:
                dtype = DTYPES[spec["dtype"]]
                arr = np.frombuffer(buf, dtype, count, offset).copy()
                offset += count * np.dtype(dtype).itemsize
            weights[spec["name"]] = arr.reshape(shape)
        if offset != len(buf):
            sys.exit(f"error: weight group {group['paths']} has {len(buf)} bytes, the manifest describes {offset}")
    return weights


# ---------------------------------------------------------------- TF semantics in torch

def same_pads(size, kernel, stride, dilation=1):
    """TF 'SAME': output = ceil(in / stride); the odd pixel of padding goes after (bottom/right)."""
    effective = (kernel - 1) * dilation + 1
    out = -(-size // stride)
    total = max((out - 1) * stride + effective - size, 0)
    return total // 2, total - total // 2


def conv_same(x, in_hw, w, kernel_hw, bias, strides, dilations, groups=1):
    """conv2d with TF 'SAME' padding: symmetric pads go into the Conv itself, an odd extra pixel into a Pad."""
    top, bottom = same_pads(in_hw[0], kernel_hw[0], strides[0], dilations[0])
    left, right = same_pads(in_hw[1], kernel_hw[1], strides[1], dilations[1])
    if top != bottom or left != right:
        x = F.pad(x, (left, right, top, bottom))
        top = left = 0
    return F.conv2d(x, w, bias, stride=strides, padding=(top, left), dilation=dilations, groups=groups)


def nhwc_pair(attr, key):
    """[1, h, w, 1] attr (strides, dilations, ksize) -> (h, w); data_format must be NHWC."""
    if attr.get("data_format", "NHWC") != "NHWC":
        raise ValueError(f"data_format {attr['data_format']} not supported")
    v = attr.get(key, [1, 1, 1, 1])
    return (v[1], v[2]) if v else (1, 1)


class TfjsGraph(torch.nn.Module):
    """Runs a TF.js graph in torch; activations NCHW, weights converted once at load.

    Spatial sizes are fixed by the graph (only the batch is dynamic), so one dry run at load records every
    node's input height/width as plain ints; padding then exports as constants, not as shape arithmetic.
    """

    def __init__(self, graph, weights):
        super().__init__()
        self.nodes = {n["name"]: n for n in graph["modelTopology"]["node"]}
        self.attrs = {name: {k: decode_attr(v) for k, v in n.get("attr", {}).items()} for name, n in self.nodes.items()}
        self.consts = {}         # name -> numpy (shapes, paddings) for non-learned constants
        self.params = torch.nn.ParameterDict()
        self.key = {}            # TF name -> ParameterDict key (keys may not contain '.')
        self.shape = {}          # TF name -> torch-layout weight shape as ints (tracing must not see tensor shapes)
        self.inputs = [name for name, n in self.nodes.items() if n["op"] == "Placeholder"]
        self.outputs = sorted(name for name, n in self.nodes.items() if n["op"] == "Identity" and not self.consumers(name))
        for name, n in self.nodes.items():
            if n["op"] == "Const":
                self.consts[name] = weights[name]
        # Conv weights: HWIO -> OIHW; depthwise HW(I)(M) -> (I*M)1HW. Biases stay 1-D.
        for name, n in self.nodes.items():
            op = n["op"]
            if op == "_FusedConv2D":
                self.add_param(n["input"][1], weights[n["input"][1]].transpose(3, 2, 0, 1))
                for extra in n["input"][2:]:
                    self.add_param(extra, weights[extra])
            elif op == "DepthwiseConv2dNative":
                w = weights[n["input"][1]]
                kh, kw, cin, mult = w.shape
                self.add_param(n["input"][1], w.reshape(kh, kw, cin * mult).transpose(2, 0, 1)[:, None])
            elif op not in OPS:
                raise ValueError(f"op {op} ({name}) not supported")
        self.order = self.topological_order()
        self.input_hw = {}       # node name -> (h, w) of its first input, filled by the dry run
        with torch.no_grad():
            outs = self(torch.zeros(1, 3, *self.placeholder_hw()))
        self.output_shapes = {name: list(o.shape) for name, o in zip(self.outputs, outs)}

    def placeholder_hw(self):
        dims = [int(d["size"]) for d in self.attrs[self.inputs[0]]["shape"]["shape"]["dim"]]
        return dims[1], dims[2]                    # NHWC

    def hw(self, name, x):
        """(h, w) of a node's input: recorded during the dry run, a constant afterwards."""
        if name not in self.input_hw:
            self.input_hw[name] = (int(x.shape[2]), int(x.shape[3]))
        return self.input_hw[name]

    def consumers(self, name):
        return [n for n in self.nodes.values() if any(i.split(":")[0] == name for i in n.get("input", []))]

    def add_param(self, name, array):
        key = f"p{len(self.key)}"
        self.key[name] = key
        self.shape[name] = tuple(int(d) for d in array.shape)
        self.params[key] = torch.nn.Parameter(torch.from_numpy(np.ascontiguousarray(array, np.float32)), requires_grad=False)

    def param(self, name):
        return self.params[self.key[name]]

    def topological_order(self):
        order, seen = [], set()

        def visit(name):
            if name in seen:
                return
            seen.add(name)
            for i in self.nodes[name].get("input", []):
                visit(i.split(":")[0])
            order.append(name)

        for out in self.outputs:
            visit(out)
        return order

    def forward(self, x):
        values = {self.inputs[0]: x}
        for name in self.order:
            n = self.nodes[name]
            if n["op"] in ("Const", "Placeholder"):
                continue
            args = [values.get(i.split(":")[0]) for i in n["input"]]
            values[name] = OPS[n["op"]](self, name, n, self.attrs[name], args)
        return [values[o] for o in self.outputs]


def op_fused_conv(g, name, node, attr, args):
    x = args[0]
    strides, dilations = nhwc_pair(attr, "strides"), nhwc_pair(attr, "dilations")
    w = g.param(node["input"][1])
    fused = attr.get("fused_ops", [])
    bias = g.param(node["input"][2]) if fused[:1] == ["BiasAdd"] else None
    if attr["padding"] == "SAME":
        y = conv_same(x, g.hw(name, x), w, g.shape[node["input"][1]][2:], bias, strides, dilations)
    elif attr["padding"] == "VALID":
        y = F.conv2d(x, w, bias, stride=strides, dilation=dilations)
    else:
        raise ValueError(f"{name}: padding {attr['padding']} not supported")
    for act in fused[1:]:
        if act == "Relu":
            y = F.relu(y)
        elif act == "Relu6":
            y = F.relu6(y)
        else:
            raise ValueError(f"{name}: fused op {act} not supported")
    return y


def op_depthwise(g, name, node, attr, args):
    x = args[0]
    strides, dilations = nhwc_pair(attr, "strides"), nhwc_pair(attr, "dilations")
    w = g.param(node["input"][1])
    shape = g.shape[node["input"][1]]
    channels = shape[0]                            # one group per input channel (multiplier 1 here)
    if attr["padding"] == "SAME":
        return conv_same(x, g.hw(name, x), w, shape[2:], None, strides, dilations, groups=channels)
    return F.conv2d(x, w, None, stride=strides, dilation=dilations, groups=channels)


def op_max_pool(g, name, node, attr, args):
    x = args[0]
    ksize, strides = nhwc_pair(attr, "ksize"), nhwc_pair(attr, "strides")
    if attr["padding"] == "SAME":
        # TF's SAME max-pool ignores the padding: pad with -inf so padded pixels never win.
        h, w = g.hw(name, x)
        top, bottom = same_pads(h, ksize[0], strides[0])
        left, right = same_pads(w, ksize[1], strides[1])
        if top or bottom or left or right:
            x = F.pad(x, (left, right, top, bottom), value=float("-inf"))
    return F.max_pool2d(x, ksize, strides)


def op_pad(g, name, node, attr, args):
    paddings = g.consts[node["input"][1]]          # NHWC rows: [[n0,n1],[h0,h1],[w0,w1],[c0,c1]]
    if paddings[0].any():
        raise ValueError(f"{name}: padding the batch dimension is not supported")
    (h0, h1), (w0, w1), (c0, c1) = paddings[1], paddings[2], paddings[3]
    return F.pad(args[0], (int(w0), int(w1), int(h0), int(h1), int(c0), int(c1)))


def op_reshape(g, name, node, attr, args):
    shape = [int(s) for s in g.consts[node["input"][1]]]
    x = args[0].permute(0, 2, 3, 1)                # back to NHWC so element order is TF's
    return x.reshape(-1, *shape[1:])               # dynamic batch instead of the graph's fixed 1


OPS = {
    "Const": None, "Placeholder": None,
    "_FusedConv2D": op_fused_conv,
    "DepthwiseConv2dNative": op_depthwise,
    "MaxPool": op_max_pool,
    "Pad": op_pad,
    "AddV2": lambda g, name, node, attr, args: args[0] + args[1],
    "Relu": lambda g, name, node, attr, args: F.relu(args[0]),
    "Reshape": op_reshape,
    "Identity": lambda g, name, node, attr, args: args[0],
}


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

def sha256(path):
    return hashlib.sha256(open(path, "rb").read()).hexdigest()


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
                      dynamic_axes={"input": {0: "batch"}, "regressors": {0: "batch"}, "classificators": {0: "batch"}},
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
                  "dtype": "float32", "dynamicBatch": True, "colorOrder": "RGB"},
        "preprocess": {
            "resize": "aspect kept, letterboxed into the square (padding pixel value 0); area average when shrinking",
            "scale": 1 / 255, "mean": [0.5, 0.5, 0.5], "std": [0.5, 0.5, 0.5],
            "note": "x' = (x * scale - mean) / std = x / 127.5 - 1, as @vladmandic/human 3.x feeds this graph",
        },
        "outputs": {
            "regressors": {"shape": ["N", 896, 16],
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
    sidecar_path = os.path.splitext(args.out)[0] + ".json"
    with open(sidecar_path, "w") as f:
        json.dump(sidecar, f, indent=2)
        f.write("\n")
    print(f"wrote {sidecar_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
