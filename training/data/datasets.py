"""FER2013 loading: the folder layout (<root>/<label>/*.jpg), Kaggle's fer2013.csv, and a pack (one file).

A pack (`python3 -m training pack`, written by pack.py) holds the decoded train and val splits in one xz file,
pixel-exact and 53.9 MiB for FER2013: the compact form a data set travels in to a GPU machine.

Everything comes out as uint8 arrays of shape (N, 48, 48) plus int64 labels in emolens order
(common.EMOTIONS), so the rest of training/ never cares where the pixels came from.
"""
from __future__ import annotations

import csv
import hashlib
import io
import json
import lzma
import os
from pathlib import Path

import numpy as np

from ..common import EMOTIONS

# Kaggle numbering: 0=angry 1=disgust 2=fear 3=happy 4=sad 5=surprise 6=neutral.
KAGGLE_TO_EMOLENS = [0, 1, 2, 3, 5, 6, 4]
KAGGLE_USAGE = {"train": "Training", "val": "PublicTest", "test": "PrivateTest"}
IMAGE_SIZE = 48
IMAGE_EXTENSIONS = {".jpg", ".jpeg", ".png", ".bmp", ".webp"}


class DataError(ValueError):
    """A data set that cannot be read; the message names the file or row."""


def load_split(source: str | os.PathLike, split: str) -> tuple[np.ndarray, np.ndarray]:
    """Load one split ("train", "val" or "test") from a CSV file or a dataset root.

    A dataset root may hold the split folders (root/train/<label>/...) or be a split folder itself.
    """
    path = Path(source)
    if not path.exists():
        raise DataError(f"data not found: {path}")
    if path.is_file():
        if path.name.endswith(PACK_SUFFIX):
            return load_pack(path, split)
        if path.suffix.lower() != ".csv":
            raise DataError(f"expected a folder of label folders, a fer2013.csv or a {PACK_SUFFIX} pack, got {path}")
        return load_csv(path, split)
    if (path / split).is_dir():
        return load_folder(path / split)
    return load_folder(path)


def folder_files(root: Path) -> list[tuple[Path, int]]:
    """The images of a folder layout as (file, label) in the order load_folder reads them (sorted labels, then
    names): FER+ votes keyed by file name (ferplus.py) are aligned with the pixels through this list."""
    label_dirs = sorted(p for p in Path(root).iterdir() if p.is_dir())
    if not label_dirs:
        raise DataError(f"no label folders in {root} (expected {', '.join(EMOTIONS)})")
    unknown = [p.name for p in label_dirs if p.name not in EMOTIONS]
    if unknown:
        raise DataError(f"unknown label folder(s) in {root}: {', '.join(unknown)} (expected {', '.join(EMOTIONS)})")
    return [(file, EMOTIONS.index(d.name)) for d in label_dirs for file in sorted(d.iterdir())
            if file.suffix.lower() in IMAGE_EXTENSIONS]


def load_folder(root: Path) -> tuple[np.ndarray, np.ndarray]:
    """Read <root>/<label>/<image>; every label folder must be one of EMOTIONS."""
    from PIL import Image, UnidentifiedImageError

    images, labels = [], []
    for file, label in folder_files(root):
        try:
            with Image.open(file) as im:
                im = im.convert("L")
                if im.size != (IMAGE_SIZE, IMAGE_SIZE):
                    im = im.resize((IMAGE_SIZE, IMAGE_SIZE), Image.BILINEAR)
                images.append(np.asarray(im, dtype=np.uint8))
        except (UnidentifiedImageError, OSError) as err:
            raise DataError(f"unreadable image {file}: {err}") from None
        labels.append(label)
    if not images:
        raise DataError(f"no images under {root}")
    return np.stack(images), np.asarray(labels, dtype=np.int64)


def load_csv(file: Path, split: str) -> tuple[np.ndarray, np.ndarray]:
    """Read Kaggle's fer2013.csv (emotion,pixels,Usage); rows of other splits are skipped."""
    if split not in KAGGLE_USAGE:
        raise DataError(f"unknown split {split!r} (expected train, val or test)")
    usage = KAGGLE_USAGE[split]
    images, labels = [], []
    with open(file, newline="") as f:
        reader = csv.DictReader(f)
        missing = {"emotion", "pixels", "Usage"} - set(reader.fieldnames or [])
        if missing:
            raise DataError(f"{file}: missing column(s) {', '.join(sorted(missing))} (expected emotion,pixels,Usage)")
        for row in reader:
            line = reader.line_num
            if row["Usage"] != usage:
                continue
            try:
                kaggle_label = int(row["emotion"])
                if not 0 <= kaggle_label <= 6:
                    raise ValueError(f"emotion {kaggle_label} is not in 0..6")
                pixels = np.asarray(row["pixels"].split(), dtype=np.int64)
                if pixels.size != IMAGE_SIZE * IMAGE_SIZE:
                    raise ValueError(f"{pixels.size} pixels, expected {IMAGE_SIZE * IMAGE_SIZE}")
                if pixels.min() < 0 or pixels.max() > 255:
                    raise ValueError("pixel values outside 0..255")
            except (ValueError, TypeError, AttributeError) as err:
                raise DataError(f"{file}: bad row at line {line}: {err}") from None
            images.append(pixels.astype(np.uint8).reshape(IMAGE_SIZE, IMAGE_SIZE))
            labels.append(KAGGLE_TO_EMOLENS[kaggle_label])
    if not images:
        raise DataError(f"{file}: no rows with Usage={usage}")
    return np.stack(images), np.asarray(labels, dtype=np.int64)


PACK_SUFFIX = ".npz.xz"


def read_pack(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """All arrays of a pack: <split>_x, <split>_y and meta."""
    try:
        with np.load(io.BytesIO(lzma.decompress(Path(path).read_bytes()))) as z:
            return {k: z[k] for k in z.files}
    except (lzma.LZMAError, ValueError, OSError) as err:
        raise DataError(f"{path}: not a data pack ({err})") from None


def pack_meta(path: str | os.PathLike) -> dict | None:
    """What pack.py's write_pack recorded (its source; valSubsetOf where val is a subset), or None if `path` is not
    a pack."""
    if not str(path).endswith(PACK_SUFFIX) or not Path(path).is_file():
        return None
    z = read_pack(path)
    return json.loads(str(z["meta"])) if "meta" in z else {}


def load_pack(path: Path, split: str) -> tuple[np.ndarray, np.ndarray]:
    z = read_pack(path)
    if f"{split}_x" not in z:
        raise DataError(f"{path}: no {split} split in this pack (it holds {', '.join(sorted(k[:-2] for k in z if k.endswith('_x')))})")
    x, y = z[f"{split}_x"], z[f"{split}_y"].astype(np.int64)
    if x.ndim != 3 or x.shape[1:] != (IMAGE_SIZE, IMAGE_SIZE) or x.dtype != np.uint8 or len(x) != len(y):
        raise DataError(f"{path}: {split} holds {x.dtype} {x.shape}, expected uint8 (N, {IMAGE_SIZE}, {IMAGE_SIZE})")
    return x, y


def load_cached(source: str | os.PathLike, split: str, cache_dir: str | os.PathLike = "runs/cache"):
    """load_split, memoised as .npz (decoding 28k JPEGs takes a while on 2 cores)."""
    path = Path(source).resolve()
    key = hashlib.sha1(f"{path}:{split}:{path.stat().st_mtime_ns}".encode()).hexdigest()[:12]
    cache = Path(cache_dir) / f"{split}-{key}.npz"
    if cache.exists():
        data = np.load(cache)
        return data["x"], data["y"]
    x, y = load_split(path, split)
    cache.parent.mkdir(parents=True, exist_ok=True)
    np.savez(cache, x=x, y=y)
    return x, y


def class_counts(y: np.ndarray) -> np.ndarray:
    return np.bincount(y, minlength=len(EMOTIONS))
