"""Tests of FERC's Python half: the 68-point net rebuilt from face-api's weights (training/convert/landmarks68.py) and
the EV classifier + fusion script (training/ferc.py) on a generated feature cache. The check against face-api itself is
in test/landmarks.test.ts (it needs TF.js).

Run: training/py.sh -m unittest training.tests.test_ferc
"""
import contextlib
import io
import json
import os
import tempfile
import unittest
from pathlib import Path
from unittest import mock

import numpy as np
import torch

from training import ferc
from training.convert import landmarks68
from training.common import EMOTIONS

REPO = Path(__file__).resolve().parents[2]
MANIFEST = REPO / "node_modules" / "@vladmandic" / "face-api" / "model" / "face_landmark_68_model-weights_manifest.json"


class Landmarks68Test(unittest.TestCase):
    def setUp(self):
        if not MANIFEST.exists():
            self.skipTest(f"{MANIFEST} not found (npm ci installs @vladmandic/face-api)")

    def test_rebuilt_net_has_every_weight_and_the_export_is_the_shipped_model(self):
        net = landmarks68.load_net(str(MANIFEST))
        # 356,840 parameters = the 356,840 one-byte quantised weights of the .bin: each used exactly once.
        self.assertEqual(sum(p.numel() for p in net.parameters()), 356840)
        with torch.no_grad():
            out = net(torch.zeros(3, 3, 112, 112))
        self.assertEqual(tuple(out.shape), (3, 136))
        with tempfile.TemporaryDirectory() as tmp, contextlib.redirect_stdout(io.StringIO()):
            onnx_path = os.path.join(tmp, "face-landmarks68.onnx")
            landmarks68.main(["--manifest", str(MANIFEST), "--out", onnx_path])
            sidecar = json.load(open(os.path.join(tmp, "face-landmarks68.json")))
            shipped = json.load(open(REPO / "models" / "face-landmarks68.json"))
        self.assertEqual(sidecar["task"], "face-landmarks")
        self.assertEqual(sidecar["license"], "MIT")
        # The export is deterministic: rerunning the converter reproduces the shipped bytes.
        self.assertEqual(sidecar["sha256"], shipped["sha256"])


def write_cache(folder, split, n, rng):
    """A feature cache like scripts/ferc-features.ts writes, with an EV that carries the label."""
    columns = (["label"] + [f"ev.f{i}" for i in range(24)] + [f"cnn.{e}" for e in EMOTIONS]
               + [f"cnnMaskMean.{e}" for e in EMOTIONS] + [f"cnnMaskBlack.{e}" for e in EMOTIONS]
               + [f"p{i}.{a}" for i in range(68) for a in "xy"])
    y = rng.integers(0, 7, n)
    centres = np.random.default_rng(1).normal(0.5, 0.2, (7, 24))
    ev = centres[y] + rng.normal(0, 0.08, (n, 24))
    cnn = np.full((n, 7), 0.1)
    cnn[np.arange(n), (y + (rng.random(n) < 0.4)) % 7] = 0.4   # a CNN that is right 60 % of the time
    cnn /= cnn.sum(1, keepdims=True)
    rows = np.zeros((n, len(columns)), np.float32)
    rows[:, 0], rows[:, 1:25], rows[:, 25:32], rows[:, 32:39], rows[:, 39:46] = y, ev, cnn, cnn, cnn
    rows.tofile(os.path.join(folder, f"{split}.f32"))
    json.dump({"split": split, "n": n, "columns": columns, "labels": EMOTIONS, "wallSeconds": 0, "cpuSeconds": 0},
              open(os.path.join(folder, f"{split}.json"), "w"))


class FercClassifierTest(unittest.TestCase):
    def test_learns_a_separable_ev_fuses_and_exports(self):
        rng = np.random.default_rng(0)
        with tempfile.TemporaryDirectory() as tmp:
            write_cache(tmp, "train", 700, rng)
            write_cache(tmp, "val", 300, rng)
            out = os.path.join(tmp, "report.json")
            onnx_path = os.path.join(tmp, "ferc-ev.onnx")
            with mock.patch.object(ferc, "EPOCHS_MLP", 15), mock.patch.object(ferc, "EPOCHS_LOGREG", 15), mock.patch.object(ferc, "BATCH", 64), \
                    contextlib.redirect_stdout(io.StringIO()) as printed:
                ferc.main(["--features", tmp, "--out", out, "--export", onnx_path])
            report = json.load(open(out))
            sidecar = json.load(open(os.path.join(tmp, "ferc-ev.json")))
            self.assertTrue(os.path.getsize(onnx_path) > 0)
        r = report["results"]
        self.assertGreater(r["evMlpVal"]["accuracy"], 0.9, printed.getvalue())
        self.assertLess(abs(r["cnnVal"]["accuracy"] - 0.6), 0.1)
        # Fusing a near-perfect EV classifier into a 60 % CNN must help.
        self.assertGreater(r["fusionProductVal"]["accuracy"], r["cnnVal"]["accuracy"] + 0.2)
        self.assertIn(report["fusionWeight"]["trainCv"], ferc.FUSION_GRID)
        self.assertEqual(sidecar["task"], "ev-emotion")
        self.assertEqual(sidecar["labels"], EMOTIONS)
        self.assertIn("chosen ON VAL", printed.getvalue())


if __name__ == "__main__":
    unittest.main()
