"""Tests of the model factory on tiny generated data: loaders, a 2-step training run, export -> ONNX Runtime.

Run: training/py.sh -m unittest discover -s training/tests -t .   (npm test runs it via test/training.test.ts)
"""
import argparse
import json
import tempfile
import unittest
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from training import export, train
from training.data import EMOTIONS, DataError, load_split
from training.models import count_parameters, create_model

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


class Registry(unittest.TestCase):
    def test_seed002_has_the_papers_parameter_count(self):
        self.assertEqual(count_parameters(create_model("seed002_cnn")), 2_345_607)

    def test_every_model_outputs_7_logits(self):
        for name, size in [("seed002_cnn", 48), ("mini_xception", 48), ("emolens_vgg", 44)]:
            with self.subTest(name=name):
                self.assertEqual(tuple(create_model(name)(torch.zeros(2, 1, size, size)).shape), (2, 7))


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
            with self.assertRaisesRegex(KeyError, "mini_xception"):
                train.main(parse(common + ["--arch", "emolens_vgg_small", "--out", str(Path(tmp) / "b"),
                                           "--init", str(Path(tmp) / "a" / "best.pt")]))


if __name__ == "__main__":
    unittest.main()
