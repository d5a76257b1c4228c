"""`python3 -m training pack`: a data set's train and val splits decoded into one xz-compressed .npz (a pack).

    python3 -m training pack --out runs/fer2013.npz.xz --val-subset 1000

Owns writing a pack; reading one back is datasets.py's (load_split takes a pack like any other layout), so a pack
travels to a GPU machine and trains there as the folder layout does here.
"""
from __future__ import annotations

import io
import json
import lzma
import os
from pathlib import Path

import numpy as np

from ..common import EMOTIONS
from .datasets import IMAGE_SIZE, PACK_SUFFIX, load_split
from .ferplus import load_votes

# Delta-filtering each pixel against the one a row above (48 bytes back) before LZMA: 54 MB instead of 56 (zip: 68).
PACK_FILTERS = [{"id": lzma.FILTER_DELTA, "dist": IMAGE_SIZE}, {"id": lzma.FILTER_LZMA2, "preset": 6}]


def write_pack(source: str | os.PathLike, out: str | os.PathLike, splits=("train", "val"), val_subset: int = 0,
               votes: str | os.PathLike | None = None) -> dict:
    """Decode `splits` of a data set (any layout load_split reads) into one xz-compressed .npz. With `val_subset` N
    the val split keeps N images (a seeded stratified sample, in their original order): a GPU machine takes at most
    64 MiB with the repository, and FER2013's train split alone packs to 47 MiB. With `votes` (ferplus.py's
    sources) each split's FER+ votes travel along as <split>_votes, aligned with its images."""
    arrays, meta = {}, {"source": str(source)}
    for split in splits:
        x, y = load_split(source, split)
        v = None
        if votes is not None:
            v = load_votes(votes, source, split).astype(np.float32)
            meta["votes"] = str(votes)
        if split == "val" and 0 < val_subset < len(y):
            meta["valSubsetOf"] = len(y)
            rng = np.random.default_rng(0)
            keep = np.sort(np.concatenate([rng.permutation(np.flatnonzero(y == c))[:round(val_subset * (y == c).mean())]
                                           for c in range(len(EMOTIONS))]))
            x, y = x[keep], y[keep]
            v = v[keep] if v is not None else None
        arrays[f"{split}_x"], arrays[f"{split}_y"] = x, y.astype(np.uint8)
        if v is not None:
            arrays[f"{split}_votes"] = v
    buf = io.BytesIO()
    np.savez(buf, **arrays, meta=np.array(json.dumps(meta)))
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(lzma.compress(buf.getvalue(), format=lzma.FORMAT_XZ, filters=PACK_FILTERS))
    return {split: len(arrays[f"{split}_y"]) for split in splits} | {"bytes": out.stat().st_size}


def pack_main(cfg) -> None:
    """python3 -m training pack: write a data set as one pack file."""
    counts = write_pack(cfg.data, cfg.out, tuple(cfg.splits.split(",")), cfg.val_subset, cfg.ferplus)
    print(f"wrote {cfg.out}: " + ", ".join(f"{k} {v:,}" for k, v in counts.items() if k != "bytes")
          + f" images, {counts['bytes'] / 2 ** 20:.1f} MiB")


def build_pack_parser(p):
    p.add_argument("--data", default="../shared/datasets/fer2013", help="a folder layout or fer2013.csv")
    p.add_argument("--out", default="runs/fer2013" + PACK_SUFFIX)
    p.add_argument("--splits", default="train,val", help="comma-separated; never pack the test split for training")
    p.add_argument("--val-subset", type=int, default=0, help="keep this many val images (stratified; 0 = all)")
    p.add_argument("--ferplus", default=None, help="also store each split's FER+ votes (a votes folder or file, as "
                   "train --ferplus), so --targets ferplus trains from the pack alone")
    return p
