"""The zoo's pieces (docs/zoo.md): the seed architectures' documented sizes, train.py --cpu-budget-min (stops at the
budget, resumes without spending it twice) and the ECE of training/metrics.py (a vector with a known ECE, and the same
number as src/eval/calibration.ts on the same probabilities).

Run: training/py.sh -m unittest training.tests.test_zoo
"""
import argparse
import contextlib
import io
import json
import subprocess
import unittest
from pathlib import Path

import numpy as np

from training import train
from training.metrics import calibration_report
from training.common import count_macs, count_parameters
from training.models.registry import create_model
from training.tests.test_training import REPO, FolderSetCase

# Parameter counts and MACs (one 48 px pass) as docs/zoo.md and docs/training.md state them.
DOCUMENTED = {
    "seed000_mobilenet_v2": (2_232_263, 53_700_000),
    "seed001_cnn12": (1_694_567, 150_500_000),
    "seed002_cnn": (2_345_607, 77_300_000),
    "seed003_gelu_cnn": (4_233_607, 217_800_000),
    "mini_xception": (56_951, 5_500_000),
}


def parse_train(args):
    return train.build_parser(argparse.ArgumentParser()).parse_args(args)


class SeedArchitectures(unittest.TestCase):
    def test_documented_parameters_and_macs(self):
        for name, (params, macs) in DOCUMENTED.items():
            with self.subTest(name=name):
                model = create_model(name)
                self.assertEqual(count_parameters(model), params)
                self.assertAlmostEqual(count_macs(model, 48) / 1e6, macs / 1e6, delta=0.05)

    def test_gelu_cnn_uses_gelu_and_the_papers_filters(self):
        model = create_model("seed003_gelu_cnn")
        convs = [m.out_channels for m in model.modules() if m.__class__.__name__ == "Conv2d"]
        self.assertEqual(convs, [128, 256, 512, 512])
        self.assertTrue(any(m.__class__.__name__ == "GELU" for m in model.modules()))
        self.assertFalse(any(m.__class__.__name__ == "ReLU" for m in model.modules()))

    def test_cnn12_has_12_weight_layers(self):
        model = create_model("seed001_cnn12")
        kinds = [m.__class__.__name__ for m in model.modules() if m.__class__.__name__ in ("Conv2d", "Linear")]
        self.assertEqual(kinds, ["Conv2d"] * 9 + ["Linear"] * 3)


class CpuBudget(FolderSetCase):
    def run_train(self, out: Path, budget_min: float, *extra: str) -> dict:
        with contextlib.redirect_stdout(io.StringIO()) as log:
            result = train.main(parse_train([
                "--data", str(self.tmp / "fer"), "--out", str(out), "--arch", "mini_xception", "--input-size", "48",
                "--epochs", "1000", "--batch-size", "8", "--threads", "1", "--cpu-budget-min", str(budget_min),
                "--eval-every-min", "0.005", "--lr", "0.05", "--cache-dir", str(self.tmp / "cache"), *extra]))
        result["log"] = log.getvalue()
        return result

    def test_stops_at_the_budget_and_resumes_without_spending_it_twice(self):
        budget_s = 0.02 * 60
        out = self.tmp / "budget"
        history = self.run_train(out, 0.02)["history"]
        cpu = [h["train_cpu_seconds"] for h in history]
        # Stopped by the budget (not by --epochs), within one step of it; validation is not billed.
        self.assertGreaterEqual(cpu[-1], budget_s - 0.05)
        self.assertLess(cpu[-2], budget_s)
        self.assertLess(history[-1]["epoch"], 1000)
        self.assertGreater(len(history), 2, "--eval-every-min adds evaluation points")
        self.assertEqual(cpu, sorted(cpu))
        self.assertLess(history[-1]["lr"], 0.1 * 0.05, "the cosine schedule ends at the end of the budget")
        self.assertEqual(json.loads((out / "history.json").read_text()), history)

        again = self.run_train(out, 0.02, "--resume")
        self.assertEqual(len(again["history"]), len(history), "a finished budget trains no further")

        more = self.run_train(out, 0.04, "--resume")["history"]
        self.assertEqual(more[:len(history)], history)
        self.assertGreater(len(more), len(history))
        self.assertGreaterEqual(more[-1]["train_cpu_seconds"], 2 * budget_s - 0.05)
        self.assertLess(more[-1]["train_cpu_seconds"], 2 * budget_s + 1.0, "resumed CPU time adds to the saved one")


class ExpectedCalibrationError(unittest.TestCase):
    # confidences 0.9 (right), 0.9 (wrong), 0.5 (right), and a uniform row whose tie goes to the first class
    PROBS = np.array([
        [0.9, 0.1, 0, 0, 0, 0, 0],
        [0.9, 0.1, 0, 0, 0, 0, 0],
        [0.1, 0.5, 0.4, 0, 0, 0, 0],
        [1 / 7] * 7,
    ])
    LABELS = np.array([0, 1, 1, 0])

    def test_a_vector_with_known_ece(self):
        cal = calibration_report(self.LABELS, self.PROBS)
        # bin 13 (0.8667, 0.9333]: 2 faces, acc 0.5 vs conf 0.9; bin 7: 1 face, 1 vs 0.5; bin 2: 1 face, 1 vs 1/7
        self.assertAlmostEqual(cal["ece"], 2 / 4 * 0.4 + 1 / 4 * 0.5 + 1 / 4 * (1 - 1 / 7), places=12)
        counts = [b["count"] for b in cal["reliability"]]
        self.assertEqual(len(counts), 15)
        self.assertEqual((counts[13], counts[7], counts[2], sum(counts)), (2, 1, 1, 4))
        self.assertIsNone(cal["reliability"][0]["confidence"])
        self.assertEqual(calibration_report(np.array([0, 1]), np.eye(7)[[0, 1]])["ece"], 0.0)

    def test_the_same_as_the_typescript_calibration(self):
        rng = np.random.default_rng(0)
        logits = rng.normal(size=(500, 7)) * rng.uniform(0.1, 4, size=(500, 1))
        probs = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
        labels = rng.integers(0, 7, 500)
        ours = calibration_report(labels, probs)
        confidences = probs.max(1).tolist()
        correct = (probs.argmax(1) == labels).tolist()
        script = ("import { calibrationMetrics } from './src/eval/calibration.ts';"
                  "let s = ''; process.stdin.on('data', (d) => { s += d; }).on('end', () => {"
                  "const { c, ok } = JSON.parse(s); process.stdout.write(JSON.stringify(calibrationMetrics(c, ok))); });")
        r = subprocess.run(["node", "--import", "tsx", "--input-type=module", "-e", script], cwd=REPO,
                           input=json.dumps({"c": confidences, "ok": correct}), capture_output=True, text=True,
                           timeout=120)
        self.assertEqual(r.returncode, 0, r.stderr)
        theirs = json.loads(r.stdout)
        self.assertAlmostEqual(ours["ece"], theirs["ece"], places=12)
        self.assertEqual([b["count"] for b in ours["reliability"]], [b["count"] for b in theirs["reliability"]])
        for a, b in zip(ours["reliability"], theirs["reliability"]):
            for key in ("confidence", "accuracy"):
                if a[key] is None:
                    self.assertIsNone(b[key])
                else:
                    self.assertAlmostEqual(a[key], b[key], places=12)
