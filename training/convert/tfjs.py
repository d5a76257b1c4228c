"""Reading TF.js graph models (model.json + .bin shards) and running them in torch.

Owns: the weightsManifest reader (with dequantisation), TF's 'SAME' padding and NHWC attribute conventions,
and `TfjsGraph`, a torch module that walks a graph node by node. It knows nothing about any one network:
tfjs_to_onnx.py (BlazeFace -> ONNX), landmarks68.py and training/models/pretrained.py (face-recognition backbones)
build on it. Activations are kept NCHW; TF's NHWC only matters where the graph reshapes or reduces over axes, and
there the op maps TF's axes (or transposes back to NHWC first, so flattened element order is TF's).

Only the ops in OPS are supported; any other stops the load with its name. Needs torch and numpy only.
"""
import base64
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

# TF.js weight dtypes and the numpy types their bytes hold.
DTYPES = {"float32": np.float32, "int32": np.int32, "uint8": np.uint8, "uint16": np.uint16,
          "float16": np.float16, "bool": np.bool_}

# TF's NHWC axis -> the same axis of our NCHW activations.
NHWC_TO_NCHW_AXIS = {0: 0, 1: 2, 2: 3, 3: 1, -1: 1, -2: 3, -3: 2, -4: 0}


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
        buf = b""
        for p in group["paths"]:
            with open(os.path.join(folder, p), "rb") as f:
                buf += f.read()
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


# Ops whose float constant operands (batch-norm scale/shift, PReLU slopes) become parameters, so a
# fine-tuning run can train them like the conv weights. Scalars (ReLU6's 6, an epsilon) stay constants.
ELEMENTWISE = {"Add", "AddV2", "Sub", "Mul", "Maximum", "Minimum"}


class TfjsGraph(torch.nn.Module):
    """Runs a TF.js graph in torch; activations NCHW, weights converted once at load.

    outputs: node names to return, in that order (default: the graph's Identity sinks, sorted).
    input_hw: the input size to build for (default: the placeholder's). Spatial sizes are fixed per instance
    (only the batch is dynamic), so one dry run at load records every node's input height/width as plain
    ints; padding then exports as constants, not as shape arithmetic. The dry run also counts the
    multiply-accumulates of every conv and matmul for one image (`macs`).
    """

    def __init__(self, graph, weights, outputs=None, input_hw=None):
        super().__init__()
        self.nodes = {n["name"]: n for n in graph["modelTopology"]["node"]}
        self.attrs = {name: {k: decode_attr(v) for k, v in n.get("attr", {}).items()} for name, n in self.nodes.items()}
        self.consts = {}         # name -> numpy (shapes, paddings, scalars) for non-learned constants
        self.params = torch.nn.ParameterDict()
        self.key = {}            # TF name -> ParameterDict key (keys may not contain '.')
        self.shape = {}          # TF name -> torch-layout weight shape as ints (tracing must not see tensor shapes)
        self.groups = {}         # depthwise weight name -> conv groups (= input channels)
        self.inputs = [name for name, n in self.nodes.items() if n["op"] == "Placeholder"]
        if outputs is None:
            outputs = sorted(name for name, n in self.nodes.items() if n["op"] == "Identity" and not self.consumers(name))
        missing = [o for o in outputs if o not in self.nodes]
        if missing:
            raise ValueError(f"output node(s) not in the graph: {', '.join(missing)}")
        self.outputs = list(outputs)
        for name, n in self.nodes.items():
            if n["op"] == "Const":
                self.consts[name] = weights[name]
        # Conv weights: HWIO -> OIHW; depthwise HW(I)(M) -> (I*M)1HW. Biases and matmul kernels keep TF's layout.
        for name, n in self.nodes.items():
            op = n["op"]
            if op in ("_FusedConv2D", "Conv2D"):
                self.add_param(n["input"][1], weights[n["input"][1]].transpose(3, 2, 0, 1))
                for extra in n["input"][2:]:
                    self.add_param(extra, weights[extra])
            elif op in ("DepthwiseConv2dNative", "FusedDepthwiseConv2dNative"):
                w = weights[n["input"][1]]
                kh, kw, cin, mult = w.shape
                self.add_param(n["input"][1], w.reshape(kh, kw, cin * mult).transpose(2, 0, 1)[:, None])
                self.groups[n["input"][1]] = cin
                for extra in n["input"][2:]:
                    self.add_param(extra, weights[extra])
            elif op in ("MatMul", "_FusedMatMul"):
                if self.attrs[name].get("transpose_a") or self.attrs[name].get("transpose_b"):
                    raise ValueError(f"{name}: transposed matmul not supported")
                for extra in n["input"][1:]:
                    self.add_param(extra, weights[extra])
            elif op in ELEMENTWISE:
                for i in n["input"]:
                    c = weights.get(i)
                    if i in self.consts and i not in self.key and c.dtype == np.float32 and c.size > 1:
                        self.add_param(i, c)
            elif op not in OPS:
                raise ValueError(f"op {op} ({name}) not supported")
        self.order = self.topological_order()
        self.build_hw = tuple(input_hw or self.placeholder_hw())   # the dry run's input size
        self.input_hw = {}       # node name -> (h, w) of its first input, filled by the dry run
        self.input_shape = {}    # node name -> its first input's full shape, where an op needs it (dry run)
        self.counting = True     # count MACs during the dry run only
        self.macs = 0
        with torch.no_grad():
            outs = self(torch.zeros(1, self.placeholder_channels(), *(input_hw or self.placeholder_hw())))
        self.counting = False
        self.output_shapes = {name: list(o.shape) for name, o in zip(self.outputs, outs)}

    def placeholder_hw(self):
        dims = [int(d["size"]) for d in self.attrs[self.inputs[0]]["shape"]["shape"]["dim"]]
        return dims[1], dims[2]                    # NHWC

    def placeholder_channels(self):
        return int(self.attrs[self.inputs[0]]["shape"]["shape"]["dim"][3]["size"])

    def hw(self, name, x):
        """(h, w) of a node's input: recorded during the dry run, a constant afterwards."""
        if name not in self.input_hw:
            self.input_hw[name] = (int(x.shape[2]), int(x.shape[3]))
        return self.input_hw[name]

    def static_shape(self, name, x):
        """A node's input shape as the dry run (batch 1) saw it, as plain ints: constants in the export."""
        if name not in self.input_shape:
            self.input_shape[name] = tuple(int(d) for d in x.shape)
        return self.input_shape[name]

    def used_parameters(self):
        """Weights the outputs need (a graph's other heads are loaded but not exported)."""
        return sum(self.param(i).numel() for i in {i for name in self.order for i in self.nodes[name].get("input", [])}
                   if i in self.key)

    def consumers(self, name):
        return [n for n in self.nodes.values() if any(i.split(":")[0] == name for i in n.get("input", []))]

    def add_param(self, name, array):
        key = f"p{len(self.key)}"
        self.key[name] = key
        self.shape[name] = tuple(int(d) for d in array.shape)
        self.params[key] = torch.nn.Parameter(torch.from_numpy(np.ascontiguousarray(array, np.float32)), requires_grad=False)

    def param(self, name):
        return self.params[self.key[name]]

    def operand(self, name, like):
        """A constant input of an elementwise op as a tensor that broadcasts against activation `like`.

        TF broadcasts a [C] (or [1,1,1,C]) constant over NHWC's last axis; ours is axis 1, so it becomes [1,C,1,1].
        """
        if name in self.key:
            t = self.param(name)
        else:
            t = torch.as_tensor(np.asarray(self.consts[name], np.float32))
        if like is not None and like.dim() == 4 and t.dim() in (1, 4) and t.numel() > 1:
            t = t.reshape(1, -1, 1, 1)
        return t

    def count(self, y, macs_per_output):
        if self.counting:
            self.macs += int(y[0].numel()) * int(macs_per_output)

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


def apply_fused(name, y, fused):
    """The activations a TF grappler fusion appended after BiasAdd."""
    for act in fused[1:]:
        if act == "Relu":
            y = F.relu(y)
        elif act == "Relu6":
            y = F.relu6(y)
        else:
            raise ValueError(f"{name}: fused op {act} not supported")
    return y


def op_fused_conv(g, name, node, attr, args):
    x = args[0]
    strides, dilations = nhwc_pair(attr, "strides"), nhwc_pair(attr, "dilations")
    w = g.param(node["input"][1])
    fused = attr.get("fused_ops", [])
    if fused and fused[0] != "BiasAdd":
        raise ValueError(f"{name}: fused op {fused[0]} not supported")
    bias = g.param(node["input"][2]) if fused[:1] == ["BiasAdd"] else None
    if attr["padding"] == "SAME":
        y = conv_same(x, g.hw(name, x), w, g.shape[node["input"][1]][2:], bias, strides, dilations)
    elif attr["padding"] == "VALID":
        y = F.conv2d(x, w, bias, stride=strides, dilation=dilations)
    else:
        raise ValueError(f"{name}: padding {attr['padding']} not supported")
    g.count(y, np.prod(g.shape[node["input"][1]][1:]))
    return apply_fused(name, y, fused)


def op_depthwise(g, name, node, attr, args):
    x = args[0]
    strides, dilations = nhwc_pair(attr, "strides"), nhwc_pair(attr, "dilations")
    w = g.param(node["input"][1])
    shape = g.shape[node["input"][1]]
    groups = g.groups[node["input"][1]]            # one group per input channel
    fused = attr.get("fused_ops", [])
    if fused and fused[0] != "BiasAdd":
        raise ValueError(f"{name}: fused op {fused[0]} not supported")
    bias = g.param(node["input"][2]) if fused[:1] == ["BiasAdd"] else None
    if attr["padding"] == "SAME":
        y = conv_same(x, g.hw(name, x), w, shape[2:], bias, strides, dilations, groups=groups)
    else:
        y = F.conv2d(x, w, bias, stride=strides, dilation=dilations, groups=groups)
    g.count(y, shape[2] * shape[3])
    return apply_fused(name, y, fused)


def op_matmul(g, name, node, attr, args):
    w = g.param(node["input"][1])
    y = args[0] @ w
    fused = attr.get("fused_ops", [])
    if fused:
        if fused[0] != "BiasAdd":
            raise ValueError(f"{name}: fused op {fused[0]} not supported")
        y = y + g.param(node["input"][2])
    g.count(y, g.shape[node["input"][1]][0])
    return apply_fused(name, y, fused)


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
    # the target shape: a constant, or a list computed from the static shapes (Shape -> StridedSlice -> Pack)
    shape = [int(s) for s in (args[1] if isinstance(args[1], list) else g.consts[node["input"][1]])]
    x = args[0]
    if x.dim() == 4:
        x = x.permute(0, 2, 3, 1)                  # back to NHWC so element order is TF's
        if len(shape) == 3:
            # a detection head [1, H*W*anchors, k]: rows follow the grid, so a larger input gives more rows
            return x.reshape(x.shape[0], -1, shape[2])
    return x.reshape(-1, *shape[1:])               # dynamic batch instead of the graph's fixed 1


def op_concat(g, name, node, attr, args):
    """ConcatV2: the last input is the axis (TF's, of an NHWC tensor when 4-D)."""
    tensors = args[:-1]
    if any(t is None for t in tensors):
        raise ValueError(f"{name}: concatenating constants is not supported")
    return torch.cat(tensors, tf_axes(tensors[0], g.consts[node["input"][-1]])[0])


def op_depth_to_space(g, name, node, attr, args):
    """TF DepthToSpace, NHWC: out[h*b + i, w*b + j, c] = in[h, w, (i*b + j)*C + c] (ONNX's DCR order, not
    torch's pixel_shuffle, which reads channel c*b*b + i*b + j)."""
    if attr.get("data_format", "NHWC") != "NHWC":
        raise ValueError(f"{name}: data_format {attr['data_format']} not supported")
    x = args[0]
    b = int(attr["block_size"])
    n, _, h, w = x.shape                           # dynamic in the export; the channel count is static
    out_c = g.static_shape(name, x)[1] // (b * b)
    return x.reshape(n, b, b, out_c, h, w).permute(0, 3, 4, 1, 5, 2).reshape(n, out_c, h * b, w * b)


def legacy_source_rows(in_size, out_size):
    """TF's legacy bilinear rule for one axis (resize_bilinear_op.cc, neither attr set): source = dest * in / out;
    the lower and upper input index and the lerp between them."""
    src = np.arange(out_size) * (in_size / out_size)
    floor = np.floor(src)
    lower = np.maximum(floor, 0).astype(np.int64)
    upper = np.minimum(np.ceil(src), in_size - 1).astype(np.int64)
    return lower, upper, (src - floor).astype(np.float32)


def op_resize_bilinear(g, name, node, attr, args):
    """TF ResizeBilinear with its align_corners / half_pixel_centers attrs.

    Half-pixel (Keras UpSampling2D) and align-corners resizes are torch's bilinear interpolate with the same
    align_corners, formula for formula; an integer upscale becomes a scale factor, so the export still takes any
    input size (the graph's fixed target size is that factor times the size it was built for). TF's legacy mode
    (neither attr: source = dest * in / out, no half-pixel shift) has no torch mode and is gathered explicitly at
    the graph's fixed size.
    """
    x = args[0]
    size = [int(v) for v in g.consts[node["input"][1]]]
    align_corners = bool(attr.get("align_corners", False))
    half_pixel = bool(attr.get("half_pixel_centers", False))
    if align_corners and half_pixel:
        raise ValueError(f"{name}: align_corners and half_pixel_centers together are not valid TF")
    if g.build_hw != g.placeholder_hw():
        raise ValueError(f"{name}: the resize's target size is fixed for the graph's own input size "
                         f"{g.placeholder_hw()}; build the graph at that size (the export then takes others)")
    h, w = g.hw(name, x)
    if align_corners or half_pixel:
        factor = size[0] // h
        if half_pixel and factor >= 1 and size == [h * factor, w * factor]:
            return F.interpolate(x, scale_factor=float(factor), mode="bilinear", align_corners=False)
        return F.interpolate(x, size=size, mode="bilinear", align_corners=align_corners)
    for axis, (in_size, out_size) in ((2, (h, size[0])), (3, (w, size[1]))):
        lower, upper, lerp = legacy_source_rows(in_size, out_size)
        shape = [1, 1, out_size, 1] if axis == 2 else [1, 1, 1, out_size]
        lerp = torch.from_numpy(lerp).reshape(shape)
        x = x.index_select(axis, torch.from_numpy(lower)) * (1 - lerp) + x.index_select(axis, torch.from_numpy(upper)) * lerp
    return x


# Shape arithmetic (a dynamic-batch Reshape's target: Shape -> StridedSlice -> Pack) runs in python on the dry
# run's static shapes (batch 1); op_reshape puts the dynamic batch back. A tensor reaching these ops is not shape
# arithmetic and stops the load.

def op_shape(g, name, node, attr, args):
    x = args[0]
    dims = list(g.static_shape(name, x))
    return [dims[0], *dims[2:], dims[1]] if x.dim() == 4 else dims       # TF's NHWC


def op_strided_slice(g, name, node, attr, args):
    shape = args[0]
    if not isinstance(shape, list) or attr.get("ellipsis_mask", 0) or attr.get("new_axis_mask", 0):
        raise ValueError(f"{name}: only a StridedSlice of a 1-D shape is supported")
    begin, end, step = (int(g.consts[i][0]) for i in node["input"][1:4])
    if attr.get("shrink_axis_mask", 0) & 1:
        return shape[begin]
    begin = None if attr.get("begin_mask", 0) & 1 else begin
    end = None if attr.get("end_mask", 0) & 1 else end
    return shape[begin:end:step]


def op_pack(g, name, node, attr, args):
    if int(attr.get("axis", 0)) != 0 or any(isinstance(a, torch.Tensor) for a in args):
        raise ValueError(f"{name}: only packing scalars into a shape is supported")
    return [a if a is not None else int(g.consts[i.split(":")[0]]) for a, i in zip(args, node["input"])]


def tf_axes(x, axes):
    """TF axes (of an NHWC tensor when x is 4-D) -> axes of our tensor."""
    axes = [int(a) for a in np.atleast_1d(axes)]
    return [NHWC_TO_NCHW_AXIS[a] for a in axes] if x.dim() == 4 else axes


def op_reduce(fn):
    def run(g, name, node, attr, args):
        x = args[0]
        return fn(x, dim=tf_axes(x, g.consts[node["input"][1]]), keepdim=bool(attr.get("keep_dims", False)))
    return run


def op_squeeze(g, name, node, attr, args):
    x = args[0]
    dims = sorted(tf_axes(x, attr.get("squeeze_dims", [])), reverse=True)
    for d in dims:
        x = x.squeeze(d)
    return x


def binary(fn):
    """An elementwise op over activations and/or constants (constants reshaped to broadcast NCHW)."""
    def run(g, name, node, attr, args):
        like = next((a for a in args if a is not None), None)
        a, b = (v if v is not None else g.operand(i.split(":")[0], like) for v, i in zip(args, node["input"]))
        return fn(a, b)
    return run


OPS = {
    "Const": None, "Placeholder": None,
    "_FusedConv2D": op_fused_conv,
    "Conv2D": op_fused_conv,
    "DepthwiseConv2dNative": op_depthwise,
    "FusedDepthwiseConv2dNative": op_depthwise,
    "MatMul": op_matmul,
    "_FusedMatMul": op_matmul,
    "MaxPool": op_max_pool,
    "Pad": op_pad,
    "AddV2": binary(torch.add),
    "Add": binary(torch.add),
    "Sub": binary(torch.sub),
    "Mul": binary(torch.mul),
    "Maximum": binary(torch.maximum),
    "Minimum": binary(torch.minimum),
    "Relu": lambda g, name, node, attr, args: F.relu(args[0]),
    "Abs": lambda g, name, node, attr, args: torch.abs(args[0]),
    "Square": lambda g, name, node, attr, args: args[0] * args[0],
    "Rsqrt": lambda g, name, node, attr, args: torch.rsqrt(args[0]),
    "Sigmoid": lambda g, name, node, attr, args: torch.sigmoid(args[0]),
    "Softmax": lambda g, name, node, attr, args: torch.softmax(args[0], -1),
    "Mean": op_reduce(torch.mean),
    "Sum": op_reduce(torch.sum),
    "Squeeze": op_squeeze,
    "Reshape": op_reshape,
    "ConcatV2": op_concat,
    "DepthToSpace": op_depth_to_space,
    "ResizeBilinear": op_resize_bilinear,
    "Shape": op_shape,
    "StridedSlice": op_strided_slice,
    "Pack": op_pack,
    "Identity": lambda g, name, node, attr, args: args[0],
}
