"""FER+ (Barsoum et al. 2016): the votes of 10 raters per FER2013 image, as training targets and as a second truth.

Two files carry the votes, both read here:
- a votes CSV keyed by image (`file,row,neutral,happiness,...,NF`; `../shared/datasets/ferplus/{train,val}.csv`):
  `file` is the JPEG's path relative to the data root (`train/angry/Training_10118481.jpg`), `row` its row in
  Kaggle's fer2013.csv; a folder holding `train.csv` and `val.csv` stands for both splits;
- Microsoft's `fer2013new.csv` (`Usage,Image name,neutral,...,NF`), one line per row of Kaggle's fer2013.csv.
Votes are aligned with the pixels load_split returns: by file name for the folder layout, by row for fer2013.csv.
An image without votes (FER+ dropped it as not a face, or it was not matched) gets a row of NaN.

How votes become a distribution over the 7 emolens labels (`targets`, documented in docs/training.md):
- contempt, unknown and not-a-face (NF) votes are dropped and the 7 emotion votes renormalised;
- optionally (`min_votes` 2) an emotion with a single vote is dropped as an outlier first, as the FER+ authors did;
- an image is *unusable* when it has no votes, no emotion vote left, or more than `max_unknown` of its votes are
  unknown/NF: it falls back to its one-hot FER2013 label (`missing="fer2013"`) or leaves training (`"drop"`).
The FER+ majority label (the evaluation protocol of the FER+ paper and of `emolens eval --labels`): the image's top
vote over all 10 columns is unique and is one of the 7 emotions; otherwise the image is left out of majority figures.
"""
from __future__ import annotations

import csv
import os
from pathlib import Path

import numpy as np

from ..common import EMOTIONS
from ..metrics import calibration_report, classification_report
from .datasets import KAGGLE_USAGE, PACK_SUFFIX, DataError, folder_files, read_pack

# The 10 vote columns, in the order of both files.
VOTE_COLUMNS = ["neutral", "happiness", "surprise", "sadness", "anger", "disgust", "fear", "contempt", "unknown", "NF"]
# For each of EMOTIONS (angry, disgust, fear, happy, neutral, sad, surprise), its column in VOTE_COLUMNS.
EMOTION_COLUMNS = [4, 5, 6, 1, 0, 3, 2]
UNKNOWN_COLUMNS = [8, 9]
DEFAULT_VOTES = Path(__file__).resolve().parents[3] / "shared" / "datasets" / "ferplus"


def _votes_file(votes: str | os.PathLike, split: str) -> Path:
    path = Path(votes)
    if path.is_dir():
        path = path / f"{split}.csv"
    if not path.is_file():
        raise DataError(f"FER+ votes not found: {path}")
    return path


def _kaggle_rows(data_csv: Path, split: str) -> list[int]:
    """The 0-based data-row numbers of `split` in Kaggle's fer2013.csv, in file order (what load_csv returns)."""
    usage = KAGGLE_USAGE[split]
    with open(data_csv, newline="") as f:
        return [i for i, row in enumerate(csv.DictReader(f)) if row.get("Usage") == usage]


def _parse_votes(row: dict, where: str) -> np.ndarray:
    cells = [row.get(c, "") for c in VOTE_COLUMNS]
    if all((c or "").strip() == "" for c in cells):
        return np.full(len(VOTE_COLUMNS), np.nan)
    try:
        v = np.asarray([float(c) for c in cells])
    except ValueError:
        raise DataError(f"{where}: vote columns must be numbers") from None
    if (v < 0).any():
        raise DataError(f"{where}: negative vote count")
    return v


def load_votes(votes: str | os.PathLike, data: str | os.PathLike, split: str) -> np.ndarray:
    """(N, 10) vote counts aligned with load_split(data, split); NaN rows where an image has no FER+ votes.
    A pack written with --ferplus carries its own votes, which are used whatever `votes` says."""
    data = Path(data)
    if data.name.endswith(PACK_SUFFIX) and data.is_file():
        z = read_pack(data)
        if f"{split}_votes" in z:
            return z[f"{split}_votes"].astype(np.float64)
        raise DataError(f"{data}: this pack holds no FER+ votes (write it with python3 -m training pack --ferplus ...)")
    file = _votes_file(votes, split)
    with open(file, newline="") as f:
        reader = csv.DictReader(f)
        header = set(reader.fieldnames or [])
        missing = set(VOTE_COLUMNS) - header
        if missing:
            raise DataError(f"{file}: missing vote column(s) {', '.join(sorted(missing))} "
                            f"(expected {','.join(VOTE_COLUMNS)})")
        if "file" in header:  # our per-image CSV: keyed by file (folder layout) and by row (fer2013.csv)
            by_file, by_row = {}, {}
            for row in reader:
                v = _parse_votes(row, f"{file}: line {reader.line_num}")
                by_file[row["file"]] = v
                if (row.get("row") or "").strip():
                    by_row[int(row["row"])] = v
            if data.is_file():
                keys, table = _kaggle_rows(data, split), by_row
            else:
                root = data / split if (data / split).is_dir() else data
                keys = [f"{split}/{p.parent.name}/{p.name}" for p, _ in folder_files(root)]
                table = by_file
        elif "Usage" in header:  # Microsoft's fer2013new.csv: one line per row of fer2013.csv
            if not data.is_file():
                raise DataError(f"{file} is Microsoft's fer2013new.csv, aligned with Kaggle's fer2013.csv by row: use it "
                                "with --data fer2013.csv, or use a votes CSV with a file column for the folder layout")
            table = {i: _parse_votes(row, f"{file}: line {reader.line_num}") if (row.get("Image name") or "").strip()
                     else np.full(len(VOTE_COLUMNS), np.nan) for i, row in enumerate(reader)}
            keys = _kaggle_rows(data, split)
        else:
            raise DataError(f"{file}: expected a file column (per-image votes) or a Usage column (fer2013new.csv)")
    nan = np.full(len(VOTE_COLUMNS), np.nan)
    out = np.stack([table.get(k, nan) for k in keys]) if keys else np.zeros((0, len(VOTE_COLUMNS)))
    if not np.isfinite(out[:, 0]).any():
        raise DataError(f"{file}: no votes match the {split} images of {data}")
    return out


def distribution(votes: np.ndarray, min_votes: int = 1, max_unknown: float = 0.5) -> tuple[np.ndarray, np.ndarray]:
    """Per image, the raters' distribution over EMOTIONS and whether it is usable (see the module docstring)."""
    v = np.nan_to_num(votes, nan=0.0)
    emo = v[:, EMOTION_COLUMNS].copy()
    if min_votes > 1:
        emo[emo < min_votes] = 0
    total = v.sum(1)
    emo_sum = emo.sum(1)
    usable = np.isfinite(votes[:, 0]) & (emo_sum > 0) & (v[:, UNKNOWN_COLUMNS].sum(1) <= max_unknown * total)
    dist = np.where(usable[:, None], emo / np.maximum(emo_sum, 1e-9)[:, None], 0.0)
    return dist.astype(np.float32), usable


def majority(votes: np.ndarray) -> np.ndarray:
    """FER+ majority label (index into EMOTIONS) per image, -1 where the top vote is tied, not an emotion or absent."""
    v = np.nan_to_num(votes, nan=-1.0)
    top = v.max(1, keepdims=True)
    unique = (v == top).sum(1) == 1
    col = v.argmax(1)
    to_emotion = np.full(len(VOTE_COLUMNS), -1)
    to_emotion[EMOTION_COLUMNS] = np.arange(len(EMOTIONS))
    label = to_emotion[col]
    return np.where(unique & (top[:, 0] > 0) & np.isfinite(votes[:, 0]), label, -1)


def targets(spec: str, y: np.ndarray, votes: np.ndarray | None, min_votes: int = 1, max_unknown: float = 0.5,
            missing: str = "fer2013") -> tuple[np.ndarray, np.ndarray, dict]:
    """Soft targets (N, 7) for `--targets fer2013 | ferplus | mix:<w>` (w = the FER+ share), a keep mask, and counts.

    fer2013 is the one-hot label; ferplus the raters' distribution (unusable images: their one-hot label, or dropped
    with missing="drop"); mix:w = w * ferplus + (1 - w) * one-hot on the usable images."""
    onehot = np.eye(len(EMOTIONS), dtype=np.float32)[y]
    if spec == "fer2013":
        return onehot, np.ones(len(y), bool), {"images": int(len(y))}
    if spec == "ferplus":
        w = 1.0
    elif spec.startswith("mix:"):
        try:
            w = float(spec[4:])
        except ValueError:
            w = -1
        if not 0 <= w <= 1:
            raise DataError(f"--targets {spec}: expected mix:<w> with 0 <= w <= 1 (the FER+ share)")
    else:
        raise DataError(f"--targets {spec}: expected fer2013, ferplus or mix:<w>")
    if votes is None:
        raise DataError(f"--targets {spec} needs FER+ votes (--ferplus)")
    dist, usable = distribution(votes, min_votes, max_unknown)
    t = np.where(usable[:, None], w * dist + (1 - w) * onehot, onehot).astype(np.float32)
    keep = usable | (missing == "fer2013")
    info = {"images": int(keep.sum()), "ferplusTargets": int(usable.sum()),
            "fer2013Fallback": int((~usable & keep).sum()), "dropped": int((~keep).sum()),
            "noVotes": int((~np.isfinite(votes[:, 0])).sum())}
    return t, keep, info


def soft_report(probs: np.ndarray, votes: np.ndarray, bins: int = 15) -> dict:
    """How close predictions are to the raters, on the images with usable votes (contempt/unknown/NF dropped, as in
    training): mean cross-entropy H(raters, model) and KL(raters || model) in nats, and the ECE against the raters'
    distribution: in each top-1 confidence bin, |mean confidence - mean share of raters who chose the predicted label|
    (calibration_report's bins, with a random rater's agreement in place of 0/1 correctness)."""
    dist, usable = distribution(votes)
    p = np.clip(np.asarray(probs, np.float64)[usable], 1e-7, 1)
    d = dist[usable].astype(np.float64)
    ce = float(-(d * np.log(p)).sum(1).mean())
    entropy = float(-(d * np.log(np.where(d > 0, d, 1))).sum(1).mean())
    conf = p.max(1)
    agree = d[np.arange(len(d)), p.argmax(1)]
    index = np.clip(np.ceil(conf * bins).astype(np.int64) - 1, 0, bins - 1)
    ece = sum(abs(agree[index == m].mean() - conf[index == m].mean()) * (index == m).sum()
              for m in range(bins) if (index == m).any()) / max(1, len(conf))
    return {"n": int(usable.sum()), "crossEntropy": ce, "kl": ce - entropy, "ece": float(ece),
            "raterAgreement": float(agree.mean())}


def evaluate(probs: np.ndarray, y: np.ndarray, votes: np.ndarray) -> dict:
    """FER+ figures of predictions: the majority protocol's classification report, and soft_report."""
    m = majority(votes)
    keep = m >= 0
    return {"majority": {**classification_report(m[keep], probs[keep].argmax(1)),
                         **calibration_report(m[keep], probs[keep])},
            "distribution": soft_report(probs, votes)}
