"""training/convert/tfjs.py's ops for MediaPipe's 2021 detector graphs, and training/convert/tfjs_to_onnx.py's head
and anchor reading.

Tiny graphs built in memory, checked against TF's semantics written out by hand: ResizeBilinear's three coordinate
rules (resize_bilinear_op.cc), DepthToSpace's NHWC channel order, the Shape -> StridedSlice -> Pack -> Reshape
chain of a dynamic-batch head and ConcatV2. Needs torch and numpy only.

    /usr/bin/python3 -m unittest training.tests.test_tfjs_ops -v
"""
import base64
import json
import os
import tempfile
import unittest
from contextlib import redirect_stdout

import numpy as np
import torch

from training.convert.tfjs import TfjsGraph
from training.convert.tfjs_to_onnx import main as convert

torch.set_num_threads(1)


def s(text):
    return {"s": base64.b64encode(text.encode()).decode()}


def placeholder(h, w, c):
    dims = [{"size": "-1"}, {"size": str(h)}, {"size": str(w)}, {"size": str(c)}]
    return {"name": "x", "op": "Placeholder", "attr": {"shape": {"shape": {"dim": dims}}}}


def run(graph, weights, outputs, x_nhwc, input_hw=None):
    g = TfjsGraph(graph, weights, outputs=outputs, input_hw=input_hw)
    with torch.no_grad():
        return [o.numpy() for o in g(torch.from_numpy(x_nhwc).permute(0, 3, 1, 2))], g


def to_nhwc(y):
    return y.transpose(0, 2, 3, 1)


def resize_graph(h, w, size, align_corners, half_pixel):
    weights = {"size": np.array(size, np.int32)}
    nodes = [placeholder(h, w, 1), {"name": "size", "op": "Const"},
             {"name": "up", "op": "ResizeBilinear", "input": ["x", "size"],
              "attr": {"align_corners": {"b": align_corners}, "half_pixel_centers": {"b": half_pixel}}}]
    return {"modelTopology": {"node": nodes}}, weights


class ResizeBilinearTest(unittest.TestCase):
    # x[r, c] = 2r + c is linear, so every bilinear resize of it is 2 R[i] + C[j] with R, C the 1-D source
    # coordinates after TF's clamping: worked out by hand below for 2 -> 4 (and 3 -> 2).
    X = np.array([[0, 1], [2, 3]], np.float32).reshape(1, 2, 2, 1)

    def resized(self, size, align_corners, half_pixel, x=X):
        graph, weights = resize_graph(x.shape[1], x.shape[2], size, align_corners, half_pixel)
        (y,), _ = run(graph, weights, ["up"], x)
        return to_nhwc(y)[0, :, :, 0]

    def expect(self, got, coords):
        c = np.array(coords, np.float32)
        np.testing.assert_allclose(got, 2 * c[:, None] + c[None, :], atol=1e-6)

    def test_half_pixel_centers(self):
        # source = (i + 0.5) / 2 - 0.5 = -0.25, 0.25, 0.75, 1.25, clamped to the edge rows: 0, .25, .75, 1
        self.expect(self.resized([4, 4], False, True), [0, 0.25, 0.75, 1])

    def test_align_corners(self):
        # source = i * (2 - 1) / (4 - 1)
        self.expect(self.resized([4, 4], True, False), [0, 1 / 3, 2 / 3, 1])

    def test_legacy_neither(self):
        # source = i * 2 / 4 = 0, .5, 1, 1.5: the upper row clamped to the last, so the last two are row 1
        self.expect(self.resized([4, 4], False, False), [0, 0.5, 1, 1])

    def test_downscale_3_to_2(self):
        x = (2 * np.arange(3)[:, None] + np.arange(3)[None, :]).astype(np.float32).reshape(1, 3, 3, 1)
        # half-pixel: (i + 0.5) * 1.5 - 0.5 = 0.25, 1.75; legacy: i * 1.5 = 0, 1.5; align corners: 0, 2
        self.expect(self.resized([2, 2], False, True, x), [0.25, 1.75])
        self.expect(self.resized([2, 2], False, False, x), [0, 1.5])
        self.expect(self.resized([2, 2], True, False, x), [0, 2])

    def test_half_pixel_upscale_follows_the_input_size(self):
        # Keras UpSampling2D: the graph's fixed size is 2x what it was built for, so a larger input doubles too
        graph, weights = resize_graph(2, 2, [4, 4], False, True)
        x = np.arange(9, dtype=np.float32).reshape(1, 3, 3, 1)
        (y,), _ = run(graph, weights, ["up"], x, input_hw=(2, 2))
        self.assertEqual(y.shape, (1, 1, 6, 6))
        with self.assertRaisesRegex(ValueError, "fixed for the graph's own input size"):
            run(graph, weights, ["up"], x, input_hw=(3, 3))      # the fixed size says nothing about a 3x3 build

    def test_both_attrs_is_not_tf(self):
        graph, weights = resize_graph(2, 2, [4, 4], True, True)
        with self.assertRaisesRegex(ValueError, "align_corners and half_pixel_centers"):
            run(graph, weights, ["up"], self.X)


def head_graph(block=2, h=2, w=3, k=2):
    """x[1,h,w,block*block*k] -> DepthToSpace -> Reshape([batch, -1, k]) with the batch read by Shape/StridedSlice/
    Pack, as MediaPipe's 2021 graphs build it; then ConcatV2 of that head with itself along the last axis."""
    weights = {"begin": np.array([0], np.int32), "end": np.array([1], np.int32), "step": np.array([1], np.int32),
               "minus1": np.array(-1, np.int32), "k": np.array(k, np.int32), "axis": np.array(2, np.int32)}
    nodes = [
        placeholder(h, w, block * block * k), *({"name": n, "op": "Const"} for n in weights),
        {"name": "d2s", "op": "DepthToSpace", "input": ["x"], "attr": {"block_size": {"i": str(block)}, "data_format": s("NHWC")}},
        {"name": "shape", "op": "Shape", "input": ["d2s"]},
        {"name": "batch", "op": "StridedSlice", "input": ["shape", "begin", "end", "step"], "attr": {"shrink_axis_mask": {"i": "1"}}},
        {"name": "target", "op": "Pack", "input": ["batch", "minus1", "k"], "attr": {"axis": {"i": "0"}}},
        {"name": "head", "op": "Reshape", "input": ["d2s", "target"]},
        {"name": "both", "op": "ConcatV2", "input": ["head", "head", "axis"]},
    ]
    return {"modelTopology": {"node": nodes}}, weights


def depth_to_space(x, b):
    """TF's definition, NHWC: out[n, h*b + i, w*b + j, c] = x[n, h, w, (i*b + j)*C + c]."""
    n, h, w, depth = x.shape
    c = depth // (b * b)
    out = np.zeros((n, h * b, w * b, c), x.dtype)
    for y in range(h):
        for xx in range(w):
            for i in range(b):
                for j in range(b):
                    out[:, y * b + i, xx * b + j, :] = x[:, y, xx, (i * b + j) * c:(i * b + j + 1) * c]
    return out


class DepthToSpaceHeadTest(unittest.TestCase):
    def test_depth_to_space_reshape_and_concat_match_tf(self):
        graph, weights = head_graph()
        x = np.random.default_rng(0).standard_normal((3, 2, 3, 8)).astype(np.float32)
        (d2s, head, both), g = run(graph, weights, ["d2s", "head", "both"], x)
        want = depth_to_space(x, 2)                                    # [3, 4, 6, 2]
        np.testing.assert_array_equal(to_nhwc(d2s), want)
        np.testing.assert_array_equal(head, want.reshape(3, -1, 2))    # batch 3, though the dry run had 1
        np.testing.assert_array_equal(both, np.concatenate([head, head], 2))
        self.assertNotEqual(d2s.tolist(), torch.pixel_shuffle(torch.from_numpy(x).permute(0, 3, 1, 2), 2).tolist(),
                            "TF's channel order is not torch's pixel_shuffle")

    def test_shape_arithmetic_on_a_tensor_is_refused(self):
        graph, weights = head_graph()
        graph["modelTopology"]["node"].append({"name": "odd", "op": "Pack", "input": ["d2s", "k"], "attr": {"axis": {"i": "0"}}})
        with self.assertRaisesRegex(ValueError, "odd"):
            run(graph, weights, ["odd"], np.zeros((1, 2, 3, 8), np.float32))


def detector_graph(folder):
    """A BlazeFace-shaped graph on disk: 32x32 input, a stride-2 conv to 16x16, a 1x1 conv per head to
    2 anchors per cell, and MediaPipe 2021's output: [N, 512, 1 + 16] = scores then boxes."""
    rng = np.random.default_rng(1)
    consts = {"w0": rng.standard_normal((3, 3, 3, 4)), "b0": np.zeros(4),
              "ws": rng.standard_normal((1, 1, 4, 2)), "bs": np.zeros(2),
              "wb": rng.standard_normal((1, 1, 4, 32)), "bb": np.zeros(32),
              "shape_s": np.array([1, 512, 1]), "shape_b": np.array([1, 512, 16]), "axis": np.array(2)}
    conv = lambda name, x, w, b, stride: {   # noqa: E731
        "name": name, "op": "_FusedConv2D", "input": [x, w, b],
        "attr": {"padding": s("SAME"), "strides": {"list": {"i": ["1", str(stride), str(stride), "1"]}},
                 "fused_ops": {"list": {"s": [base64.b64encode(b"BiasAdd").decode()]}}, "data_format": s("NHWC")}}
    nodes = [placeholder(32, 32, 3), *({"name": n, "op": "Const"} for n in consts),
             conv("features", "x", "w0", "b0", 2), conv("score_map", "features", "ws", "bs", 1),
             conv("box_map", "features", "wb", "bb", 1),
             {"name": "scores", "op": "Reshape", "input": ["score_map", "shape_s"]},
             {"name": "boxes", "op": "Reshape", "input": ["box_map", "shape_b"]},
             {"name": "objects", "op": "ConcatV2", "input": ["scores", "boxes", "axis"]},
             {"name": "Identity", "op": "Identity", "input": ["objects"]}]
    data, manifest = b"", []
    for name, value in consts.items():
        dtype = "int32" if value.dtype.kind == "i" else "float32"
        data += value.astype(dtype).tobytes()
        manifest.append({"name": name, "shape": list(value.shape), "dtype": dtype})
    with open(os.path.join(folder, "tiny.bin"), "wb") as f:
        f.write(data)
    path = os.path.join(folder, "tiny.json")
    with open(path, "w") as f:
        json.dump({"modelTopology": {"node": nodes}, "weightsManifest": [{"paths": ["tiny.bin"], "weights": manifest}]}, f)
    return path


class ConverterTest(unittest.TestCase):
    def test_heads_behind_a_concat_and_their_anchor_grid_go_into_the_sidecar(self):
        with tempfile.TemporaryDirectory() as folder:
            out = os.path.join(folder, "out", "tiny.onnx")
            with open(os.devnull, "w") as quiet, redirect_stdout(quiet):
                self.assertEqual(convert(["--graph", detector_graph(folder), "--out", out]), 0)
            with open(os.path.join(folder, "out", "tiny.json")) as f:
                sidecar = json.load(f)
        self.assertEqual(sidecar["anchors"]["inputSize"], 32)
        self.assertEqual(sidecar["anchors"]["strides"], [2])
        self.assertEqual(sidecar["anchors"]["anchorsPerCell"], [2])
        self.assertEqual(sidecar["input"]["sizeMultiple"], 2)
        self.assertEqual(sidecar["outputs"]["regressors"]["shape"], ["N", 512, 16])
        self.assertEqual(sidecar["conversion"]["sourceOutputs"], {"Identity": [1, 512, 17]})
        self.assertEqual(sidecar["parameters"], 3 * 3 * 3 * 4 + 4 + 4 * 2 + 2 + 4 * 32 + 32)

if __name__ == "__main__":
    unittest.main()
