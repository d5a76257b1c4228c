"""FER+ votes as targets and as a second truth (training/data/ferplus.py), on tiny generated data: both vote files, both
data layouts, the treatment of contempt / unknown / not-a-face votes, the majority protocol, and a 2-step train + export
with --targets ferplus whose sidecar carries metrics.val.ferplus.

Run: training/py.sh -m unittest training.tests.test_ferplus
"""
import argparse
import contextlib
import io
import json
import tempfile
import unittest
from pathlib import Path

import numpy as np

from training import export, train
from training.common import EMOTIONS
from training.data.datasets import DataError, folder_files, load_split
from training.data.pack import write_pack
from training.data.ferplus import VOTE_COLUMNS, distribution, load_votes, majority, soft_report, targets
from training.tests.test_training import random_pixels, write_csv, write_folder_set

HEADER = "file,row," + ",".join(VOTE_COLUMNS)


def votes_for(label: str, agree: int = 8) -> list[int]:
    """10 votes, `agree` of them for emolens `label`, the rest neutral (or happiness when the label is neutral)."""
    col = {"angry": 4, "disgust": 5, "fear": 6, "happy": 1, "neutral": 0, "sad": 3, "surprise": 2}[label]
    v = [0] * 10
    v[col] = agree
    v[1 if col == 0 else 0] += 10 - agree
    return v


def write_votes(root: Path, data: Path, split: str, skip_every: int = 0) -> dict[str, list[int]]:
    """A per-image votes CSV for a folder set: each image's votes say its folder label (8 of 10), every
    `skip_every`-th image without votes (an empty row, as FER+ not-a-face images have)."""
    rows, by_file = [], {}
    for i, (file, label) in enumerate(folder_files(data / split)):
        key = f"{split}/{EMOTIONS[label]}/{file.name}"
        if skip_every and i % skip_every == 0:
            rows.append(f"{key}," + "," * 10)
            continue
        v = votes_for(EMOTIONS[label])
        by_file[key] = v
        rows.append(f"{key},{i}," + ",".join(map(str, v)))
    root.mkdir(parents=True, exist_ok=True)
    (root / f"{split}.csv").write_text(HEADER + "\n" + "\n".join(rows) + "\n")
    return by_file


class Distribution(unittest.TestCase):
    def test_drops_contempt_unknown_nf_and_renormalises(self):
        #            neu hap sur sad ang dis fea con unk NF
        votes = np.array([[4, 0, 0, 2, 0, 0, 0, 2, 1, 1],
                          [0, 0, 0, 0, 0, 0, 1, 0, 5, 4],    # mostly unknown / not a face: unusable
                          [np.nan] * 10,                      # no FER+ row
                          [0, 0, 0, 0, 0, 0, 0, 10, 0, 0]])  # contempt only: no emotion vote left
        dist, usable = distribution(votes)
        self.assertEqual(usable.tolist(), [True, False, False, False])
        expected = np.zeros(7)
        expected[EMOTIONS.index("neutral")], expected[EMOTIONS.index("sad")] = 4 / 6, 2 / 6
        np.testing.assert_allclose(dist[0], expected, rtol=1e-6)
        self.assertTrue((dist[1:] == 0).all())

    def test_min_votes_removes_single_votes(self):
        votes = np.array([[6, 1, 0, 3, 0, 0, 0, 0, 0, 0]], dtype=float)
        dist, _ = distribution(votes, min_votes=2)
        self.assertAlmostEqual(float(dist[0, EMOTIONS.index("happy")]), 0.0)
        self.assertAlmostEqual(float(dist[0, EMOTIONS.index("neutral")]), 6 / 9, places=6)

    def test_majority_needs_a_unique_emotion_top_vote(self):
        votes = np.array([[5, 0, 0, 0, 0, 0, 0, 0, 0, 5],   # tie with NF
                          [0, 3, 0, 0, 0, 0, 0, 4, 3, 0],   # contempt on top
                          [1, 2, 0, 0, 6, 0, 0, 0, 1, 0],   # anger
                          [np.nan] * 10])
        self.assertEqual(majority(votes).tolist(), [-1, -1, EMOTIONS.index("angry"), -1])

    def test_targets_mix_and_fallback(self):
        y = np.array([EMOTIONS.index("sad"), EMOTIONS.index("happy")])
        votes = np.array([votes_for("neutral", 10), [np.nan] * 10], dtype=float)
        t, keep, info = targets("mix:0.25", y, votes)
        self.assertTrue(keep.all())
        self.assertAlmostEqual(float(t[0, EMOTIONS.index("neutral")]), 0.25)
        self.assertAlmostEqual(float(t[0, EMOTIONS.index("sad")]), 0.75)
        self.assertEqual(t[1].tolist(), np.eye(7)[EMOTIONS.index("happy")].tolist())  # no votes: its FER2013 label
        self.assertEqual((info["ferplusTargets"], info["fer2013Fallback"]), (1, 1))
        _, keep, info = targets("ferplus", y, votes, missing="drop")
        self.assertEqual(keep.tolist(), [True, False])
        self.assertEqual(info["dropped"], 1)
        for bad in ("mix:2", "mix:x", "votes"):
            with self.assertRaises(DataError):
                targets(bad, y, votes)
        with self.assertRaisesRegex(DataError, "needs FER\\+ votes"):
            targets("ferplus", y, None)

    def test_soft_report_is_zero_kl_for_the_raters_own_distribution(self):
        votes = np.array([votes_for("sad", 6), votes_for("happy", 9)], dtype=float)
        dist, _ = distribution(votes)
        r = soft_report(dist, votes)
        self.assertAlmostEqual(r["kl"], 0.0, places=5)
        self.assertEqual(r["n"], 2)
        # confidence 0.6 with 60 % of raters agreeing, 0.9 with 90 %: calibrated against the raters
        self.assertAlmostEqual(r["ece"], 0.0, places=6)


class LoadVotes(unittest.TestCase):
    def test_folder_layout_aligned_by_file(self):
        with tempfile.TemporaryDirectory() as tmp:
            data, votes = Path(tmp) / "fer", Path(tmp) / "ferplus"
            write_folder_set(data, per_class=2)
            write_votes(votes, data, "val", skip_every=5)
            v = load_votes(votes, data, "val")
            _, y = load_split(data, "val")
            self.assertEqual(v.shape, (len(y), 10))
            has = np.isfinite(v[:, 0])
            self.assertEqual(int((~has).sum()), 3)  # images 0, 5, 10 of 14
            # each image's votes name its own folder label, so the rows line up with the pixels
            self.assertEqual(majority(v)[has].tolist(), y[has].tolist())

    def test_kaggle_csv_with_both_vote_files(self):
        rng = np.random.default_rng(0)
        with tempfile.TemporaryDirectory() as tmp:
            csv = Path(tmp) / "fer2013.csv"
            # Kaggle numbering: 3 = happy, 4 = sad, 6 = neutral
            write_csv(csv, [(3, random_pixels(rng), "Training"), (4, random_pixels(rng), "PublicTest"),
                            (6, random_pixels(rng), "Training"), (4, random_pixels(rng), "PublicTest")])
            new = Path(tmp) / "fer2013new.csv"
            new.write_text("Usage,Image name," + ",".join(VOTE_COLUMNS) + "\n"
                           + "Training,fer0000000.png," + ",".join(map(str, votes_for("happy"))) + "\n"
                           + "PublicTest,fer0000001.png," + ",".join(map(str, votes_for("sad"))) + "\n"
                           + "Training,fer0000002.png," + ",".join(map(str, votes_for("neutral"))) + "\n"
                           + "PublicTest,," + ",".join(["0"] * 9 + ["10"]) + "\n")  # dropped by FER+: no image name
            v = load_votes(new, csv, "val")
            self.assertEqual(majority(v)[:1].tolist(), [EMOTIONS.index("sad")])
            self.assertTrue(np.isnan(v[1]).all())
            self.assertEqual(majority(load_votes(new, csv, "train")).tolist(),
                             [EMOTIONS.index("happy"), EMOTIONS.index("neutral")])
            # our per-image file also carries Kaggle's row: it serves the CSV layout too
            ours = Path(tmp) / "votes.csv"
            ours.write_text(HEADER + "\nval/sad/x.jpg,3," + ",".join(map(str, votes_for("angry"))) + "\n")
            v = load_votes(ours, csv, "val")
            self.assertTrue(np.isnan(v[0]).all())
            self.assertEqual(majority(v)[1], EMOTIONS.index("angry"))

    def test_errors_name_the_file(self):
        with tempfile.TemporaryDirectory() as tmp:
            data = Path(tmp) / "fer"
            write_folder_set(data, per_class=1)
            with self.assertRaisesRegex(DataError, "FER\\+ votes not found"):
                load_votes(Path(tmp) / "nope", data, "val")
            new = Path(tmp) / "fer2013new.csv"
            new.write_text("Usage,Image name," + ",".join(VOTE_COLUMNS) + "\n")
            with self.assertRaisesRegex(DataError, "aligned with Kaggle's fer2013.csv by row"):
                load_votes(new, data, "val")
            bad = Path(tmp) / "bad.csv"
            bad.write_text("file,neutral\n")
            with self.assertRaisesRegex(DataError, "missing vote column"):
                load_votes(bad, data, "val")
            other = Path(tmp) / "other"
            write_votes(other, Path(tmp) / "fer", "val")
            (other / "val.csv").write_text(HEADER + "\nval/angry/none.jpg,1," + ",".join(map(str, votes_for("angry"))) + "\n")
            with self.assertRaisesRegex(DataError, "no votes match"):
                load_votes(other, data, "val")


class PackWithVotes(unittest.TestCase):
    def test_pack_carries_votes_aligned_with_its_val_subset(self):
        with tempfile.TemporaryDirectory() as tmp:
            data, votes = Path(tmp) / "fer", Path(tmp) / "ferplus"
            write_folder_set(data, per_class=4)
            write_votes(votes, data, "train", skip_every=3)
            write_votes(votes, data, "val")
            pack = Path(tmp) / "p.npz.xz"
            write_pack(data, pack, val_subset=14, votes=votes)
            for split in ("train", "val"):
                _, y = load_split(pack, split)
                v = load_votes(Path(tmp) / "ignored", pack, split)
                has = np.isfinite(v[:, 0])
                self.assertEqual(len(v), len(y))
                self.assertEqual(majority(v)[has].tolist(), y[has].tolist())
            self.assertEqual(len(y), 14)
            plain = Path(tmp) / "plain.npz.xz"
            write_pack(data, plain)
            with self.assertRaisesRegex(DataError, "holds no FER\\+ votes"):
                load_votes(votes, plain, "val")


class TrainOnVotes(unittest.TestCase):
    def test_two_steps_with_ferplus_targets_then_export(self):
        with tempfile.TemporaryDirectory() as tmp:
            data, votes, run = Path(tmp) / "fer", Path(tmp) / "ferplus", Path(tmp) / "run"
            write_folder_set(data, per_class=3)
            write_votes(votes, data, "train", skip_every=4)
            write_votes(votes, data, "val")
            cfg = train.build_parser(argparse.ArgumentParser()).parse_args([
                "--data", str(data), "--out", str(run), "--arch", "emolens_vgg_tiny", "--epochs", "1",
                "--batch-size", "8", "--max-steps", "2", "--threads", "1", "--targets", "ferplus", "--ferplus", str(votes),
                "--ferplus-missing", "drop", "--mix", "mixup", "--mix-prob", "1", "--label-smoothing", "0",
                "--cache-dir", str(Path(tmp) / "cache")])
            log = io.StringIO()
            with contextlib.redirect_stdout(log):
                result = train.main(cfg)
            self.assertIn("targets ferplus", log.getvalue())
            self.assertIn("FER+ acc", log.getvalue())
            row = result["history"][0]
            self.assertTrue(np.isfinite(row["train_loss"]))
            self.assertIn("val_ferplus_acc", row)
            config = json.loads((run / "config.json").read_text())
            self.assertEqual(config["selected_by"], "ferplus")
            self.assertEqual(config["target_info"]["dropped"], 6)  # every 4th of 21 train images has no votes
            with contextlib.redirect_stdout(io.StringIO()):
                sidecar = export.main(export.build_parser(argparse.ArgumentParser()).parse_args([
                    "--run", str(run), "--out", str(Path(tmp) / "models"), "--name", "tiny"]))
            fp = sidecar["metrics"]["val"]["ferplus"]
            self.assertEqual(fp["matched"], 21)
            self.assertEqual(fp["majority"]["n"], 21)
            self.assertEqual(fp["majority"]["accuracy"], row["val_ferplus_acc"])
            self.assertEqual(sidecar["training"]["stages"][-1]["targets"]["spec"], "ferplus")
            self.assertIn("FER+", sidecar["provenance"])
            self.assertNotIn("target_info", sidecar["training"]["recipe"])


if __name__ == "__main__":
    unittest.main()
