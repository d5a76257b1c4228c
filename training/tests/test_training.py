"""Tests of the model factory on tiny generated data: loaders, every registered architecture (builds, sizes, a 2-step
training run), export -> ONNX Runtime, distillation from the shipped model, and which errors become user errors.

Run: training/py.sh -m unittest discover -s training/tests -t .   (npm test runs it via test/training.test.ts)
"""
import argparse
import contextlib
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path
from unittest import mock

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn

from training import __main__ as cli
from training import export, train
from training.common import EMOTIONS, center_crop, count_macs, count_parameters, normalize
from training.data.datasets import DataError, load_cached, load_split
from training.errors import UsageError
from training.models.registry import REGISTRY, create_model
from training.tests.prerequisites import require_module

REPO = Path(__file__).resolve().parents[2]
SHIPPED_MODEL = REPO / "models" / "emolens-fer.onnx"

KAGGLE_NAMES = ["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"]


def write_csv(path: Path, rows):
    with open(path, "w") as f:
        f.write("emotion,pixels,Usage\n")
        for emotion, pixels, usage in rows:
            f.write(f"{emotion},{pixels},{usage}\n")


def random_pixels(rng, n=48 * 48):
    return " ".join(map(str, rng.integers(0, 256, n)))


def write_folder_set(root: Path, per_class=3, seed=0):
    rng = np.random.default_rng(seed)
    for split in ("train", "val"):
        for label in EMOTIONS:
            d = root / split / label
            d.mkdir(parents=True)
            for i in range(per_class):
                Image.fromarray(rng.integers(0, 256, (48, 48), dtype=np.uint8)).save(d / f"{i}.jpg")


class FolderSetCase(unittest.TestCase):
    """A tiny random folder-layout data set at `self.tmp / "fer"` (3 images per class and split), shared by the class's tests."""

    @classmethod
    def setUpClass(cls):
        cls._tmp = tempfile.TemporaryDirectory()
        cls.tmp = Path(cls._tmp.name)
        write_folder_set(cls.tmp / "fer", per_class=3)

    @classmethod
    def tearDownClass(cls):
        cls._tmp.cleanup()


class CsvLoader(unittest.TestCase):
    def test_reads_splits_and_maps_kaggle_labels(self):
        rng = np.random.default_rng(0)
        with tempfile.TemporaryDirectory() as tmp:
            csv = Path(tmp) / "fer2013.csv"
            write_csv(csv, [(k, random_pixels(rng), "Training") for k in range(7)] +
                      [(4, random_pixels(rng), "PublicTest"), (6, random_pixels(rng), "PrivateTest")])
            x, y = load_split(csv, "train")
            self.assertEqual(x.shape, (7, 48, 48))
            self.assertEqual([EMOTIONS[i] for i in y], KAGGLE_NAMES)
            _, y_val = load_split(csv, "val")
            self.assertEqual([EMOTIONS[i] for i in y_val], ["sad"])
            _, y_test = load_split(csv, "test")
            self.assertEqual([EMOTIONS[i] for i in y_test], ["neutral"])

    def test_bad_row_names_the_line(self):
        rng = np.random.default_rng(0)
        with tempfile.TemporaryDirectory() as tmp:
            csv = Path(tmp) / "fer2013.csv"
            write_csv(csv, [(3, random_pixels(rng), "Training"), (3, "1 2 3", "Training")])
            with self.assertRaisesRegex(DataError, r"line 3: 3 pixels, expected 2304"):
                load_split(csv, "train")
            write_csv(csv, [(9, random_pixels(rng), "Training")])
            with self.assertRaisesRegex(DataError, r"line 2: emotion 9"):
                load_split(csv, "train")

    def test_missing_column(self):
        with tempfile.TemporaryDirectory() as tmp:
            csv = Path(tmp) / "x.csv"
            csv.write_text("label,pixels\n1,2\n")
            with self.assertRaisesRegex(DataError, "missing column"):
                load_split(csv, "train")


class FolderLoader(unittest.TestCase):
    def test_reads_label_folders_in_emolens_order(self):
        with tempfile.TemporaryDirectory() as tmp:
            write_folder_set(Path(tmp), per_class=2)
            x, y = load_split(tmp, "val")
            self.assertEqual(x.shape, (14, 48, 48))
            self.assertEqual(np.bincount(y).tolist(), [2] * 7)

    def test_unreadable_image_names_the_file(self):
        with tempfile.TemporaryDirectory() as tmp:
            write_folder_set(Path(tmp), per_class=1)
            bad = Path(tmp) / "train" / "happy" / "broken.jpg"
            bad.write_bytes(b"\xff\xd8\xff this is not a jpeg")
            with self.assertRaisesRegex(DataError, r"unreadable image .*broken\.jpg"):
                load_split(tmp, "train")

    def test_unknown_label_folder(self):
        with tempfile.TemporaryDirectory() as tmp:
            write_folder_set(Path(tmp), per_class=1)
            (Path(tmp) / "val" / "contempt").mkdir()
            with self.assertRaisesRegex(DataError, "unknown label folder.*contempt"):
                load_split(tmp, "val")


def parse_train(args: list[str]) -> argparse.Namespace:
    return train.build_parser(argparse.ArgumentParser()).parse_args(args)


DEFAULT_INPUT_SIZE = train.build_parser(argparse.ArgumentParser()).get_default("input_size")
# Architectures defined for one input size only (their docstring says so). Every other registered architecture must
# work at train.py's default --input-size and at the whole 48 px FER2013 image.
FIXED_INPUT_SIZE = {"seed002_cnn": 48, "seed001_cnn12": 48, "seed003_gelu_cnn": 48}


def input_sizes(name: str) -> list[int]:
    return [FIXED_INPUT_SIZE[name]] if name in FIXED_INPUT_SIZE else [DEFAULT_INPUT_SIZE, 48]


def train_size(name: str) -> int:
    return FIXED_INPUT_SIZE.get(name, DEFAULT_INPUT_SIZE)


class Registry(unittest.TestCase):
    """Every architecture in training.models.registry.REGISTRY, so a new one is tested the day it is registered."""

    def test_the_documented_architectures_are_registered(self):
        # Pinned so that an architecture dropping out of the registry fails here instead of shrinking the loops below.
        self.assertLessEqual({"seed002_cnn", "mini_xception", "emolens_vgg", "emolens_vgg_wide", "emolens_vgg_small",
                              "emolens_vgg_tiny", "seed001_cnn12", "seed003_gelu_cnn", "seed000_mobilenet_v2"}, set(REGISTRY))

    def test_seed002_has_the_papers_parameter_count(self):
        self.assertEqual(count_parameters(create_model("seed002_cnn")), 2_345_607)

    def test_every_architecture_outputs_7_finite_logits(self):
        for name in sorted(REGISTRY):
            for size in input_sizes(name):
                with self.subTest(name=name, size=size):
                    model = create_model(name)
                    for training in (True, False):
                        model.train(training)
                        logits = model(torch.randn(2, 1, size, size))
                        self.assertEqual(tuple(logits.shape), (2, 7))
                        self.assertTrue(torch.isfinite(logits).all())

    def test_every_architecture_has_a_sane_parameter_and_mac_count(self):
        for name in sorted(REGISTRY):
            with self.subTest(name=name):
                model = create_model(name).train()
                params = count_parameters(model)
                # Small enough to ship to a browser (float32 under 40 MB), big enough to be a real net.
                self.assertGreater(params, 10_000)
                self.assertLess(params, 10_000_000)
                size = train_size(name)
                macs = count_macs(model, size)
                # Every conv/linear weight takes part in at least one multiply-accumulate per image; a real-time net
                # needs well under a billion.
                weights = sum(m.weight.numel() for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear)))
                self.assertGreaterEqual(macs, weights)
                self.assertLess(macs, 1_000_000_000)
                self.assertTrue(model.training, "count_macs restores the training mode")
                self.assertFalse(any(m._forward_hooks for m in model.modules()), "count_macs removes its hooks")
                self.assertEqual(count_macs(model, size), macs, "counting twice gives the same number")

    def test_unknown_architecture_is_a_usage_error(self):
        with self.assertRaisesRegex(UsageError, r"unknown architecture 'nope'; known: .*emolens_vgg"):
            create_model("nope")


class TrainEveryArchitecture(FolderSetCase):
    def test_every_architecture_trains_two_steps(self):
        for name in sorted(REGISTRY):
            with self.subTest(name=name):
                out = self.tmp / name
                log = io.StringIO()
                with contextlib.redirect_stdout(log):
                    result = train.main(parse_train([
                        "--data", str(self.tmp / "fer"), "--out", str(out), "--arch", name,
                        "--input-size", str(train_size(name)), "--epochs", "1", "--batch-size", "8", "--limit", "16",
                        "--max-steps", "2", "--threads", "1", "--cache-dir", str(self.tmp / "cache")]))
                self.assertIn(f"{name}: ", log.getvalue())
                self.assertEqual(len(result["history"]), 1)
                self.assertTrue(np.isfinite(result["history"][0]["train_loss"]))
                best = torch.load(out / "best.pt")
                self.assertEqual(best["arch"], name)
                # train.main seeds torch before building the model: the same seed gives its initial weights back.
                torch.manual_seed(0)
                initial = create_model(name).state_dict()
                changed = [k for k, v in best["model"].items() if v.is_floating_point() and not torch.equal(v, initial[k])]
                self.assertTrue(changed, "two steps changed no weight")
                shutil.rmtree(out)  # every architecture's checkpoints together: ~150 MB a machine short of disk may lack


class TrainAndExport(unittest.TestCase):
    def test_two_steps_then_export_agrees_with_onnxruntime(self):
        with tempfile.TemporaryDirectory() as tmp:
            data = Path(tmp) / "fer"
            write_folder_set(data, per_class=3)
            run = Path(tmp) / "run"
            cfg = train.build_parser(argparse.ArgumentParser()).parse_args([
                "--data", str(data), "--out", str(run), "--arch", "emolens_vgg_small", "--epochs", "1",
                "--batch-size", "8", "--max-steps", "2", "--threads", "1", "--erasing", "0.5", "--mix", "cutmix",
                "--cache-dir", str(Path(tmp) / "cache")])
            result = train.main(cfg)
            self.assertEqual(len(result["history"]), 1)
            for f in ("best.pt", "last.pt", "history.json", "config.json"):
                self.assertTrue((run / f).exists(), f)
            ecfg = export.build_parser(argparse.ArgumentParser()).parse_args([
                "--run", str(run), "--out", str(Path(tmp) / "models"), "--name", "tiny"])
            sidecar = export.main(ecfg)  # raises if ONNX Runtime disagrees with PyTorch
            self.assertLess(sidecar["exportCheck"]["maxAbsDiff"], 1e-4)
            written = json.loads((Path(tmp) / "models" / "tiny.json").read_text())
            self.assertEqual(written["labels"], EMOTIONS)
            self.assertEqual(written["input"]["height"], 44)
            self.assertEqual(written["sha256"], export.sha256(Path(tmp) / "models" / "tiny.onnx"))
            self.assertEqual(written["metrics"]["val"]["n"], 21)
            self.assertEqual(len(written["training"]["history"]), 1)
            try:
                import onnx
            except ImportError:
                return  # without python3-onnx the export writes no Grad-CAM outputs (it says so)
            # contract /2: each branch's last activations are graph outputs, the head that reads them is in the sidecar
            gradcam = written["explain"]["gradcam"]
            outputs = [o.name for o in onnx.load(str(Path(tmp) / "models" / "tiny.onnx")).graph.output]
            self.assertEqual(written["format"], "emolens-model/2")
            self.assertEqual(outputs[0], "probabilities")
            self.assertEqual(outputs[1:], [b["output"] for b in gradcam["branches"]])
            self.assertEqual(gradcam["stride"], 8)
            self.assertEqual(gradcam["heads"][0]["weight"]["shape"], [7, 2 * 192])  # emolens_vgg_small: 192 channels

    def test_warm_start_keeps_the_parent_weights_and_recipe(self):
        with tempfile.TemporaryDirectory() as tmp:
            data = Path(tmp) / "fer"
            write_folder_set(data, per_class=3)
            common = ["--data", str(data), "--arch", "emolens_vgg_small", "--epochs", "1", "--batch-size", "8",
                      "--threads", "1", "--cache-dir", str(Path(tmp) / "cache")]
            parse = train.build_parser(argparse.ArgumentParser()).parse_args
            train.main(parse(common + ["--out", str(Path(tmp) / "a"), "--max-steps", "1"]))
            parent = torch.load(Path(tmp) / "a" / "best.pt")
            # lr 0: the child's weights must equal the parent's (BatchNorm statistics aside)
            train.main(parse(common + ["--out", str(Path(tmp) / "b"), "--max-steps", "1", "--lr", "0",
                                       "--init", str(Path(tmp) / "a" / "best.pt")]))
            child = torch.load(Path(tmp) / "b" / "best.pt")
            for k, v in parent["model"].items():
                if not k.endswith(("running_mean", "running_var", "num_batches_tracked")):
                    self.assertTrue(torch.equal(v, child["model"][k]), k)
            self.assertEqual(child["parent"]["config"]["out"], str(Path(tmp) / "a"))
            sidecar = export.main(export.build_parser(argparse.ArgumentParser()).parse_args([
                "--run", str(Path(tmp) / "b"), "--out", str(Path(tmp) / "models"), "--name", "tiny", "--skip-verify"]))
            stages = sidecar["training"]["stages"]
            self.assertEqual([s["stage"] for s in stages], [0, 1])
            self.assertIn("--init", stages[1]["command"])
            self.assertEqual([h["epoch"] for h in sidecar["training"]["history"]], [1, 2])
            # a snapshot ensemble of child and parent: one graph, both nets' parameters, still agrees with ORT
            both = export.main(export.build_parser(argparse.ArgumentParser()).parse_args([
                "--run", str(Path(tmp) / "b"), "--out", str(Path(tmp) / "models"), "--name", "pair",
                "--ensemble", str(Path(tmp) / "a" / "best.pt")]))
            self.assertEqual(both["parameters"], 2 * sidecar["parameters"])
            self.assertEqual(len(both["ensemble"]), 2)
            self.assertLess(both["exportCheck"]["maxAbsDiff"], 1e-4)

    def test_init_from_another_architecture_is_refused(self):
        with tempfile.TemporaryDirectory() as tmp:
            data = Path(tmp) / "fer"
            write_folder_set(data, per_class=2)
            common = ["--data", str(data), "--epochs", "1", "--batch-size", "8", "--threads", "1", "--max-steps", "1",
                      "--cache-dir", str(Path(tmp) / "cache")]
            parse = train.build_parser(argparse.ArgumentParser()).parse_args
            train.main(parse(common + ["--arch", "mini_xception", "--out", str(Path(tmp) / "a")]))
            with self.assertRaisesRegex(UsageError, "mini_xception"):
                train.main(parse(common + ["--arch", "emolens_vgg_small", "--out", str(Path(tmp) / "b"),
                                           "--init", str(Path(tmp) / "a" / "best.pt")]))



class Distillation(unittest.TestCase):
    """train.py --teacher: the shipped model, read back by training/distill/teacher.py, as the teacher."""

    def setUp(self):
        require_module(self, "onnx", "python3-onnx")
        self.assertTrue(SHIPPED_MODEL.exists(), f"{SHIPPED_MODEL} ships with emolens")

    def test_teacher_reproduces_the_shipped_models_probabilities(self):
        from training.distill.teacher import OnnxTeacher
        teacher = OnnxTeacher(SHIPPED_MODEL)
        sidecar = teacher.sidecar
        self.assertIsNone(sidecar.get("ensemble"), "the teacher reads one net; an ensemble needs another reader")
        rng = np.random.default_rng(0)
        images = rng.integers(0, 256, (6, 48, 48), dtype=np.uint8)
        images[0] = 128  # a flat crop, and smooth ones: nothing like the noise the net never saw either
        yy, xx = np.mgrid[:48, :48]
        images[1] = (255 * np.exp(-((yy - 20) ** 2 + (xx - 24) ** 2) / 200)).astype(np.uint8)
        images[2] = (xx * 5).astype(np.uint8)
        x = normalize(torch.from_numpy(images), teacher.mean, teacher.std)
        x = center_crop(x, sidecar["input"]["height"]).contiguous()
        probs = F.softmax(teacher(x), 1)
        if sidecar["tta"]["hflip"] and sidecar["tta"]["inGraph"]:
            probs = (probs + F.softmax(teacher(x.flip(3)), 1)) / 2
        # The ONNX model itself, through onnxruntime-node: the runtime emolens ships.
        expected = export.run_onnxruntime(SHIPPED_MODEL, x.numpy())
        self.assertEqual(expected.shape, (6, 7))
        self.assertLess(float(np.abs(probs.numpy() - expected).max()), 1e-4)
        self.assertEqual(probs.argmax(1).tolist(), expected.argmax(1).tolist())

    def test_a_shipped_model_becomes_a_checkpoint_with_its_lineage(self):
        from training.distill.teacher import OnnxTeacher, checkpoint_from_onnx
        ckpt = checkpoint_from_onnx(SHIPPED_MODEL)
        model = create_model(ckpt["arch"]).eval()
        model.load_state_dict(ckpt["model"])
        x = torch.randn(3, 1, 44, 44)
        with torch.no_grad():
            self.assertLess(float((model(x) - OnnxTeacher(SHIPPED_MODEL)(x)).abs().max()), 1e-5)
        stages = json.loads(SHIPPED_MODEL.with_suffix(".json").read_text())["training"]["stages"]
        chain, node = [ckpt["config"]], ckpt["parent"]
        while node:
            chain.insert(0, node["config"])
            node = node["parent"]
        self.assertEqual([c["out"] for c in chain], [s["recipe"]["out"] for s in stages])
        # the last stage's own curve: its epochs count from 0 again (fractional where validation ran mid-epoch)
        last_stage = ckpt["history_from_sidecar"]
        self.assertTrue(last_stage and all(h["stage"] == len(stages) - 1 for h in last_stage))
        self.assertAlmostEqual(last_stage[-1]["epoch"], stages[-1]["epochsRun"], places=6)
        self.assertEqual([h["epoch"] for h in last_stage], sorted(h["epoch"] for h in last_stage))

    def test_the_fast_model_comes_back_with_its_batch_norm_restored(self):
        # emolens-fast (emolens_vgg_tiny) rebuilt in the trainable architecture: same function in eval mode, and BN
        # statistics that are the measured ones, so a warm restart's first batches see the shipped model.
        from training.distill.teacher import OnnxTeacher, checkpoint_from_onnx
        fast = REPO / "models" / "emolens-fast.onnx"
        rng = np.random.default_rng(0)
        images = rng.integers(0, 256, (64, 48, 48), dtype=np.uint8)
        ckpt = checkpoint_from_onnx(fast, batch_norm=True, calibration=images)
        self.assertEqual(ckpt["arch"], "emolens_vgg_tiny")
        model = create_model(ckpt["arch"]).eval()
        model.load_state_dict(ckpt["model"])
        x = torch.randn(4, 1, 44, 44)
        with torch.no_grad():
            self.assertLess(float((model(x) - OnnxTeacher(fast)(x)).abs().max()), 1e-4)
            calib = center_crop(normalize(torch.from_numpy(images), ckpt["mean"], ckpt["std"]), 44)
            first = model.features[1]
            raw = model.features[0](calib)
            self.assertLess(float((first.running_mean - raw.mean((0, 2, 3))).abs().max()), 1e-4)
            model.train()
            model.head[0].p = 0.0
            self.assertLess(float((model(calib) - OnnxTeacher(fast)(calib)).abs().max()), 1e-3)
        with self.assertRaisesRegex(ValueError, "calibration"):
            checkpoint_from_onnx(fast, batch_norm=True)

    def test_two_steps_of_distillation(self):
        with tempfile.TemporaryDirectory() as tmp:
            write_folder_set(Path(tmp) / "fer", per_class=2)
            log = io.StringIO()
            with contextlib.redirect_stdout(log):
                result = train.main(parse_train([
                    "--data", str(Path(tmp) / "fer"), "--out", str(Path(tmp) / "run"), "--arch", "emolens_vgg_tiny",
                    "--teacher", str(SHIPPED_MODEL), "--epochs", "1", "--batch-size", "8", "--max-steps", "2",
                    "--threads", "1", "--contrast", "0.2", "--brightness", "0.2", "--blur", "0.5", "--mix", "cutmix",
                    "--cache-dir", str(Path(tmp) / "cache")]))
            self.assertIn(f"distilling from 1 teacher(s) (alpha 0.9, T 2.0): {SHIPPED_MODEL.stem} (0.", log.getvalue())
            self.assertEqual(len(result["history"]), 1)
            self.assertTrue(np.isfinite(result["history"][0]["train_loss"]))
            self.assertEqual(torch.load(Path(tmp) / "run" / "best.pt")["config"]["teacher"], str(SHIPPED_MODEL))

    def test_a_distilled_stage_records_its_teacher_and_repeatable_command(self):
        cfg = vars(parse_train(["--arch", "emolens_vgg_tiny", "--teacher", "models/emolens-fer.onnx", "--kd-alpha", "0.8",
                                "--contrast", "0.3", "--blur", "0.2", "--tta", "none", "--out", "runs/fast"]))
        stage = export.stage(0, cfg, [])
        for flag in ("--teacher models/emolens-fer.onnx", "--kd-alpha 0.8", "--contrast 0.3", "--blur 0.2", "--tta none"):
            self.assertIn(flag, stage["command"])
        self.assertNotIn("--brightness", stage["command"], "a knob at its default is left out")
        # the command parses back to the same recipe
        back = vars(parse_train(stage["command"].removeprefix("npm run train -- ").split()))
        self.assertEqual({k: back[k] for k in stage["recipe"]}, stage["recipe"])
        shipped = json.loads(SHIPPED_MODEL.with_suffix(".json").read_text())
        self.assertEqual(stage["distillation"]["teacherSha256"], shipped["sha256"])
        self.assertEqual(stage["distillation"]["teacherValAccuracy"], shipped["metrics"]["val"]["accuracy"])
        self.assertEqual((stage["distillation"]["alpha"], stage["distillation"]["temperature"]), (0.8, 2.0))

    def test_a_teacher_of_another_input_size_is_a_usage_error(self):
        with tempfile.TemporaryDirectory() as tmp:
            write_folder_set(Path(tmp) / "fer", per_class=1)
            with contextlib.redirect_stdout(io.StringIO()), self.assertRaisesRegex(UsageError, "reads 44px crops, not --input-size 48"):
                train.main(parse_train([
                    "--data", str(Path(tmp) / "fer"), "--out", str(Path(tmp) / "run"), "--arch", "emolens_vgg_tiny",
                    "--teacher", str(SHIPPED_MODEL), "--input-size", "48", "--epochs", "1", "--max-steps", "1",
                    "--threads", "1", "--cache-dir", str(Path(tmp) / "cache")]))


class OfflineTeacher(unittest.TestCase):
    """python3 -m training ensemble -> cached soft targets -> train --teacher-probs; export --quantize-weights."""

    def setUp(self):
        require_module(self, "onnx", "python3-onnx")

    def test_ensemble_targets_feed_offline_distillation(self):
        from training.distill import ensemble
        with tempfile.TemporaryDirectory() as tmp:
            data, cache = Path(tmp) / "fer", str(Path(tmp) / "cache")
            write_folder_set(data, per_class=2)
            common = ["--data", str(data), "--epochs", "1", "--batch-size", "8", "--max-steps", "1", "--threads", "1",
                      "--cache-dir", cache]
            with contextlib.redirect_stdout(io.StringIO()):
                train.main(parse_train(common + ["--arch", "emolens_vgg_tiny", "--out", str(Path(tmp) / "a")]))
            npz = Path(tmp) / "teacher.npz"
            log = io.StringIO()
            with contextlib.redirect_stdout(log):
                meta = ensemble.main(ensemble.build_parser().parse_args([
                    "--member", str(Path(tmp) / "a" / "best.pt"), "--member", str(SHIPPED_MODEL), "--data", str(data),
                    "--cache-dir", cache, "--out", str(npz), "--threads", "1"]))
            self.assertEqual(len(meta["members"]), 2)
            self.assertIn("ensemble of 2 (mean of probabilities)", log.getvalue())
            with np.load(npz) as z:
                targets, val = z["train"], z["val"]
            self.assertEqual(targets.shape, (14, 7))
            np.testing.assert_allclose(targets.sum(1), 1, atol=1e-5)
            # the ensemble is the plain mean of its members' flip-averaged probabilities
            x_val, _ = load_cached(str(data), "val", cache)
            members = [ensemble.Member(str(Path(tmp) / "a" / "best.pt")), ensemble.Member(str(SHIPPED_MODEL))]
            np.testing.assert_allclose(val, np.mean([m.probs(x_val) for m in members], 0), atol=1e-5)
            with contextlib.redirect_stdout(io.StringIO()) as log:
                result = train.main(parse_train(common + ["--arch", "emolens_vgg_tiny", "--out", str(Path(tmp) / "b"),
                                                          "--teacher-probs", str(npz), "--max-steps", "2"]))
            self.assertIn("distilling from cached targets", log.getvalue())
            self.assertTrue(np.isfinite(result["history"][0]["train_loss"]))
            with self.assertRaisesRegex(UsageError, "holds 14 train targets, the train set has 7"):
                ensemble.load_teacher_probs(str(npz), 7)
            with self.assertRaisesRegex(UsageError, "not found"):
                ensemble.load_teacher_probs(str(Path(tmp) / "none.npz"), 14)

    def test_int8_weights_are_smaller_and_the_sidecar_reports_the_quantised_graph(self):
        with tempfile.TemporaryDirectory() as tmp:
            data = Path(tmp) / "fer"
            write_folder_set(data, per_class=3)
            with contextlib.redirect_stdout(io.StringIO()):
                train.main(parse_train(["--data", str(data), "--out", str(Path(tmp) / "run"), "--arch", "emolens_vgg_small",
                                        "--epochs", "1", "--batch-size", "8", "--max-steps", "2", "--threads", "1",
                                        "--cache-dir", str(Path(tmp) / "cache")]))
                args = ["--run", str(Path(tmp) / "run"), "--out", str(Path(tmp) / "models")]
                plain = export.main(export.build_parser(argparse.ArgumentParser()).parse_args(args + ["--name", "f"]))
                small = export.main(export.build_parser(argparse.ArgumentParser()).parse_args(
                    args + ["--name", "q", "--quantize-weights"]))
            f, q = Path(tmp) / "models" / "f.onnx", Path(tmp) / "models" / "q.onnx"
            self.assertLess(q.stat().st_size, f.stat().st_size / 3)
            storage = small["weightStorage"]
            self.assertGreater(storage["tensors"], 0)
            self.assertGreaterEqual(storage["sameArgmaxAsFloat"], 0.9)
            self.assertLess(storage["maxAbsDiffFromFloat"], 0.05)
            self.assertEqual(small["sha256"], export.sha256(q))
            self.assertNotIn("weightStorage", plain)
            # the sidecar's metrics are the quantised graph's own, as ONNX Runtime computes them
            x_val, y_val = load_cached(str(data), "val", str(Path(tmp) / "cache"))
            ckpt = torch.load(Path(tmp) / "run" / "best.pt")
            x = center_crop(normalize(torch.from_numpy(x_val), ckpt["mean"], ckpt["std"]), 44).contiguous().numpy()
            ort = export.run_onnxruntime(q, x)
            self.assertAlmostEqual(small["metrics"]["val"]["accuracy"], float((ort.argmax(1) == y_val).mean()), places=6)


class CommandLineErrors(unittest.TestCase):
    """python3 -m training: the user's errors are one line and exit 2; a bug keeps its traceback."""

    def test_an_unknown_arch_is_one_error_line_and_exit_2(self):
        with tempfile.TemporaryDirectory() as tmp:
            write_folder_set(Path(tmp) / "fer", per_class=1)
            r = subprocess.run(
                [sys.executable, "-m", "training", "train", "--arch", "nope", "--data", str(Path(tmp) / "fer"),
                 "--out", str(Path(tmp) / "run"), "--cache-dir", str(Path(tmp) / "cache"), "--threads", "1"],
                cwd=REPO, capture_output=True, text=True, env={**os.environ, "PYTHONWARNINGS": "ignore"}, timeout=120)
            self.assertEqual(r.returncode, 2, r.stderr)
            lines = r.stderr.strip().splitlines()
            self.assertEqual(len(lines), 1, r.stderr)
            self.assertRegex(lines[0], r"^error: unknown architecture 'nope'; known: ")

    def test_user_errors_exit_2_with_their_message(self):
        for err in (UsageError("bad flag"), DataError("no images under x"), FileNotFoundError("no such file: y")):
            with self.subTest(error=type(err).__name__), mock.patch.object(train, "main", side_effect=err):
                stderr = io.StringIO()
                with contextlib.redirect_stderr(stderr):
                    self.assertEqual(cli.main(["train"]), 2)
                self.assertEqual(stderr.getvalue(), f"error: {err}\n")

    def test_an_internal_key_error_is_not_a_user_error(self):
        for command, target in (("train", train), ("export", export)):
            argv = [command] if command == "train" else [command, "--run", "runs/x"]
            with self.subTest(command=command), mock.patch.object(target, "main", side_effect=KeyError("history")):
                with contextlib.redirect_stderr(io.StringIO()) as stderr, self.assertRaises(KeyError):
                    cli.main(argv)
                self.assertEqual(stderr.getvalue(), "")


if __name__ == "__main__":
    unittest.main()
