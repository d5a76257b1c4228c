"""What a GPU campaign is made of, run on the CPU (docs/training.md, "A GPU campaign"): the data pack, the batched
random erasing, the wall-clock budget, several checkpoints as one online teacher, and `campaign` itself end to end on
a tiny data set with its bundle of at most 8 files. CUDA itself cannot be tested here: every device-dependent line
takes its device from the data or the model, so the CPU path runs the same code."""
import contextlib
import io
import json
import tarfile
import tempfile
import unittest
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from training import export, train
from training.common import load_checkpoint
from training.data.augment import random_erasing
from training.data.datasets import DataError, load_split, pack_meta
from training.data.pack import write_pack
from training.distill import campaign
from training.distill.teacher import Teachers
from training.errors import UsageError
from training.export import distillation
from training.models.registry import create_model
from training.tests.prerequisites import require_module
from training.tests.test_training import FolderSetCase, parse_train, write_folder_set


class Pack(unittest.TestCase):
    def test_a_pack_holds_the_splits_pixel_for_pixel_and_a_stratified_val_subset(self):
        with tempfile.TemporaryDirectory() as tmp:
            write_folder_set(Path(tmp) / "fer", per_class=4)
            counts = write_pack(Path(tmp) / "fer", Path(tmp) / "all.npz.xz")
            self.assertEqual((counts["train"], counts["val"]), (28, 28))
            for split in ("train", "val"):
                x, y = load_split(Path(tmp) / "fer", split)
                px, py = load_split(Path(tmp) / "all.npz.xz", split)
                self.assertTrue(np.array_equal(x, px))
                self.assertTrue(np.array_equal(y, py))
                self.assertEqual(py.dtype, np.int64)
            write_pack(Path(tmp) / "fer", Path(tmp) / "sub.npz.xz", val_subset=14)
            _, vy = load_split(Path(tmp) / "sub.npz.xz", "val")
            self.assertEqual(np.bincount(vy, minlength=7).tolist(), [2] * 7)
            tx, _ = load_split(Path(tmp) / "sub.npz.xz", "train")
            self.assertEqual(len(tx), 28, "the subset is of val only")
            self.assertEqual(pack_meta(Path(tmp) / "sub.npz.xz")["valSubsetOf"], 28)
            self.assertNotIn("valSubsetOf", pack_meta(Path(tmp) / "all.npz.xz"))
            self.assertIsNone(pack_meta(Path(tmp) / "fer"))

    def test_a_model_trained_on_a_val_subset_is_exported_with_the_whole_val_split(self):
        with tempfile.TemporaryDirectory() as tmp:
            write_folder_set(Path(tmp) / "fer", per_class=2)
            write_pack(Path(tmp) / "fer", Path(tmp) / "sub.npz.xz", val_subset=7)
            with contextlib.redirect_stdout(io.StringIO()):
                train.main(parse_train(["--data", str(Path(tmp) / "sub.npz.xz"), "--out", str(Path(tmp) / "run"),
                                        "--arch", "emolens_vgg_tiny", "--epochs", "1", "--max-steps", "1",
                                        "--batch-size", "8", "--threads", "1", "--cache-dir", str(Path(tmp) / "cache")]))
                args = ["--run", str(Path(tmp) / "run"), "--name", "t", "--out", str(Path(tmp) / "models"), "--skip-verify"]
                with self.assertRaisesRegex(UsageError, "subset of val .*pass --data"):
                    export.main(export.build_parser().parse_args(args))
                sidecar = export.main(export.build_parser().parse_args([*args, "--data", str(Path(tmp) / "fer")]))
            self.assertEqual(sidecar["metrics"]["val"]["n"], 14)

    def test_a_broken_or_partial_pack_is_a_data_error(self):
        with tempfile.TemporaryDirectory() as tmp:
            (Path(tmp) / "bad.npz.xz").write_bytes(b"not xz at all")
            with self.assertRaisesRegex(DataError, "not a data pack"):
                load_split(Path(tmp) / "bad.npz.xz", "train")
            write_folder_set(Path(tmp) / "fer", per_class=1)
            write_pack(Path(tmp) / "fer", Path(tmp) / "train.npz.xz", splits=("train",))
            with self.assertRaisesRegex(DataError, "no val split in this pack"):
                load_split(Path(tmp) / "train.npz.xz", "val")


class RandomErasing(unittest.TestCase):
    def test_each_erased_image_loses_one_rectangle_of_2_to_20_percent(self):
        torch.manual_seed(0)
        x = torch.ones(400, 1, 44, 44)
        out = random_erasing(x, 0.5)
        zero = out[:, 0] == 0
        erased = zero.flatten(1).any(1)
        self.assertTrue(0.4 < erased.float().mean().item() < 0.6)
        for img in zero[erased]:
            rows, cols = img.any(1).nonzero().flatten(), img.any(0).nonzero().flatten()
            h, w = rows[-1] - rows[0] + 1, cols[-1] - cols[0] + 1
            self.assertEqual(int(img.sum()), int(h * w), "the zeros form one axis-aligned rectangle")
            self.assertTrue(0.015 <= int(h * w) / 44 ** 2 <= 0.23)
        self.assertTrue(torch.equal(out[~erased], x[~erased]))
        self.assertTrue(torch.equal(random_erasing(x, 0.0), x))


def pickled_modules(path: Path) -> set[str]:
    """The modules whose objects a torch.save file pickles (the GLOBAL references in its data.pkl)."""
    import pickletools
    import zipfile
    with zipfile.ZipFile(path) as z:
        data = z.read(next(n for n in z.namelist() if n.endswith("data.pkl")))
    modules, strings = set(), []
    for op, arg, _ in pickletools.genops(data):
        if op.name in ("SHORT_BINUNICODE", "BINUNICODE", "UNICODE"):
            strings.append(arg)
        elif op.name == "GLOBAL":
            modules.add(arg.split(" ")[0])
        elif op.name == "STACK_GLOBAL":
            modules.add(strings[-2])
    return modules


class WallClockBudget(FolderSetCase):
    def test_the_wall_clock_budget_ends_the_run_and_is_recorded(self):
        out = self.tmp / "wall"
        with contextlib.redirect_stdout(io.StringIO()) as log:
            history = train.main(parse_train([
                "--data", str(self.tmp / "fer"), "--out", str(out), "--arch", "mini_xception", "--input-size", "48",
                "--batch-size", "8", "--threads", "1", "--cpu-budget-min", "0.02", "--budget-clock", "wall",
                "--eval-every-min", "0.005", "--device", "auto", "--cache-dir", str(self.tmp / "cache")]))["history"]
        self.assertGreaterEqual(len(history), 2, "--eval-every-min adds evaluation points")
        self.assertGreaterEqual(history[-1]["train_step_seconds"], 1.2)
        self.assertLess(history[-2]["train_step_seconds"], 1.2)
        self.assertIn("wall-clock budget reached", log.getvalue())
        # Only tensors and plain Python values: a checkpoint written by PyTorch 2 / NumPy 2 on a GPU machine loads
        # with PyTorch 1.13 / NumPy 1.24 here (a pickled NumPy 2 scalar would name numpy._core, unknown to NumPy 1).
        for name in ("last.pt", "best.pt"):
            self.assertFalse({m for m in pickled_modules(out / name) if not m.startswith(("torch", "collections"))},
                             f"{name} pickles only torch tensors and plain Python values")
        config = json.loads((out / "config.json").read_text())
        self.assertEqual(config["budget_clock"], "wall")
        self.assertRegex(config["trained_on"], r"PyTorch")


class CheckpointTeachers(FolderSetCase):
    def test_several_checkpoints_teach_as_the_log_of_their_mean_probability(self):
        paths = []
        for i, arch in enumerate(("emolens_vgg_small", "mini_xception")):
            with contextlib.redirect_stdout(io.StringIO()):
                train.main(parse_train([
                    "--data", str(self.tmp / "fer"), "--out", str(self.tmp / f"t{i}"), "--arch", arch,
                    "--epochs", "1", "--batch-size", "8", "--max-steps", "1", "--threads", "1",
                    "--cache-dir", str(self.tmp / "cache")]))
            paths.append(str(self.tmp / f"t{i}" / "best.pt"))
        teachers = Teachers(",".join(paths), 44)
        self.assertEqual([m["arch"] for m in teachers.members], ["emolens_vgg_small", "mini_xception"])
        self.assertTrue(all(len(m["sha256"]) == 64 and m["valAccuracy"] is not None for m in teachers.members))
        x01 = torch.rand(3, 1, 44, 44, generator=torch.Generator().manual_seed(0))
        expected = 0
        for path in paths:
            ckpt = load_checkpoint(path)
            net = create_model(ckpt["arch"]).eval()
            net.load_state_dict(ckpt["model"])
            with torch.no_grad():
                expected = expected + F.softmax(net((x01 - ckpt["mean"]) / ckpt["std"]), 1) / 2
        teachers.train()
        self.assertFalse(teachers.training, "a teacher stays in eval mode")
        self.assertLess(float((teachers(x01).exp() - expected).abs().max()), 1e-6)
        one = Teachers(paths[0], 44)
        self.assertLess(float((one(x01).exp().sum(1) - 1).abs().max()), 1e-5)
        record = distillation({"teacher": ",".join(paths), "teacher_members": teachers.members, "kd_alpha": 0.9,
                               "kd_temperature": 2.0})
        self.assertEqual([m["path"] for m in record["members"]], paths)


class Campaign(FolderSetCase):
    def setUp(self):
        require_module(self, "onnx", "python3-onnx")  # the shipped model joins the teachers

    def test_teachers_ensemble_students_and_a_bundle_of_at_most_8_files(self):
        data = self.tmp / "fer.npz.xz"
        write_pack(self.tmp / "fer", data)
        out, dest = self.tmp / "campaign", self.tmp / "OUT"
        with contextlib.redirect_stdout(io.StringIO()) as log:
            summary = campaign.main(campaign.build_parser().parse_args([
                "--data", str(data), "--out", str(out), "--device", "auto", "--threads", "1",
                "--teachers", "emolens_vgg_small:0,emolens_vgg_small:1", "--teacher-minutes", "0.01",
                "--students", "emolens_vgg_tiny:none", "--student-minutes", "0.01", "--eval-every-min", "0.005",
                "--teacher-args", "--batch-size 8", "--student-args", "--batch-size 8 --kd-alpha 0.5",
                "--with-teacher", str(campaign.SHIPPED_DEFAULT), "--with-teacher", str(self.tmp / "nope.onnx"),
                "--cache-dir", str(self.tmp / "cache"), "--bundle", str(dest)]))
        self.assertEqual(sorted(summary["teachers"]), ["teacher-emolens_vgg_small-s0", "teacher-emolens_vgg_small-s1"])
        self.assertTrue(all(r["exit"] == 0 and r["valAcc"] is not None for r in summary["teachers"].values()), log.getvalue())
        # the two trained here and, by default, the shipped emolens-fer
        self.assertEqual([Path(m["path"]).name for m in summary["ensemble"]["members"]], ["best.pt", "best.pt", "emolens-fer.onnx"])
        self.assertEqual(summary["leftOut"], [{"path": str(self.tmp / "nope.onnx"), "error": summary["leftOut"][0]["error"]}])
        student = summary["students"]["student-emolens_vgg_tiny-none"]
        self.assertEqual(student["exit"], 0, log.getvalue())
        files = sorted(f.name for f in dest.iterdir())
        self.assertEqual(files, ["ensemble.npz", "logs.tar.xz", "student-emolens_vgg_tiny-none.tar", "summary.json",
                                 "teachers-1.tar"])
        self.assertTrue(all(f.stat().st_size <= 16 * 2 ** 20 for f in dest.iterdir()))
        with tarfile.open(dest / "teachers-1.tar") as tar:
            self.assertEqual(sorted(tar.getnames()), [f"teacher-emolens_vgg_small-s{i}/best.{x}" for i in (0, 1) for x in ("json", "npz")],
                             "weights as .npz and the rest as JSON: no torch pickle crosses PyTorch versions")
        # Back on another machine: the runs rebuilt with its PyTorch, students exactly, teachers from float16.
        back = self.tmp / "back"
        with contextlib.redirect_stdout(io.StringIO()):
            runs = campaign.main(campaign.build_parser().parse_args(["--unbundle", str(dest), "--out", str(back)]))["runs"]
        self.assertEqual(sorted(Path(r).name for r in runs), ["student-emolens_vgg_tiny-none", "teacher-emolens_vgg_small-s0",
                                                              "teacher-emolens_vgg_small-s1"])
        self.assertTrue((back / "summary.json").exists() and (back / "ensemble.npz").exists())
        self.assertTrue((back / "teacher-emolens_vgg_small-s0" / "train.log").exists(), "the logs come back too")
        original = load_checkpoint(out / "student-emolens_vgg_tiny-none" / "best.pt")
        ckpt = load_checkpoint(back / "student-emolens_vgg_tiny-none" / "best.pt")
        self.assertEqual(sorted(ckpt["model"]), sorted(original["model"]))
        self.assertTrue(all(torch.equal(ckpt["model"][k], v) for k, v in original["model"].items()))
        self.assertEqual(ckpt["config"], json.loads(json.dumps(original["config"])))
        self.assertEqual([m["kind"] for m in ckpt["config"]["teacher_members"]], ["checkpoint", "checkpoint", "shipped model"])
        self.assertEqual(ckpt["config"]["tta"], "none")
        net = create_model(ckpt["arch"])
        net.load_state_dict(ckpt["model"])
        t = load_checkpoint(back / "teacher-emolens_vgg_small-s0" / "best.pt")
        self.assertTrue(all(v.dtype == torch.float32 for v in t["model"].values() if v.is_floating_point()))
        halves = Teachers(",".join(str(p) for p in sorted(back.glob("teacher-*/best.pt"))), 44)
        self.assertEqual(len(halves.members), 2)
        self.assertTrue(torch.isfinite(halves(torch.rand(2, 1, 44, 44))).all())
        self.assertFalse((out / "teacher-emolens_vgg_small-s0" / "last.pt").exists(), "last.pt removed by default")

    def test_a_deadline_leaves_out_the_students_rather_than_the_bundle(self):
        data = self.tmp / "fer.npz.xz"
        write_pack(self.tmp / "fer", data)
        with contextlib.redirect_stdout(io.StringIO()) as log:
            summary = campaign.main(campaign.build_parser().parse_args([
                "--data", str(data), "--out", str(self.tmp / "late"), "--device", "cpu", "--threads", "1",
                "--teachers", "emolens_vgg_small:0", "--teacher-minutes", "0.005", "--eval-every-min", "0.005",
                "--teacher-args", "--batch-size 8", "--with-teacher", str(self.tmp / "nope.onnx"),
                "--deadline-min", "1.2", "--cache-dir", str(self.tmp / "cache"), "--bundle", str(self.tmp / "LATE")]))
        self.assertIn("too little time left for the students", log.getvalue())
        self.assertEqual(summary["students"], {})
        self.assertLess(summary["studentMinutes"], campaign.MIN_STUDENT_MINUTES)
        self.assertTrue((self.tmp / "LATE" / "teachers-1.tar").exists())

    def test_a_malformed_member_list_is_a_usage_error(self):
        from training.errors import UsageError
        with self.assertRaisesRegex(UsageError, "not arch:seed"):
            campaign.parse_pairs("emolens_vgg", "teachers")


if __name__ == "__main__":
    unittest.main()
