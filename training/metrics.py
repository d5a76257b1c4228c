"""Classification metrics with the same names and shapes as `emolens eval --json`."""
from __future__ import annotations

import numpy as np

from .common import EMOTIONS


def classification_report(y_true: np.ndarray, y_pred: np.ndarray, labels=EMOTIONS) -> dict:
    k = len(labels)
    cm = np.zeros((k, k), dtype=np.int64)
    np.add.at(cm, (y_true, y_pred), 1)
    per_class = {}
    for i, name in enumerate(labels):
        tp = cm[i, i]
        support = cm[i].sum()
        predicted = cm[:, i].sum()
        precision = tp / predicted if predicted else 0.0
        recall = tp / support if support else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        per_class[name] = {"precision": float(precision), "recall": float(recall), "f1": float(f1), "support": int(support)}
    return {
        "n": int(len(y_true)),
        "accuracy": float(np.trace(cm) / max(1, cm.sum())),
        "macroF1": float(np.mean([c["f1"] for c in per_class.values()])),
        "perClass": per_class,
        "confusionMatrix": {"labels": list(labels), "matrix": cm.tolist()},
    }


CALIBRATION_BINS = 15  # as src/eval/calibration.ts (Guo et al. 2017)


def calibration_report(y_true: np.ndarray, probs: np.ndarray, bins: int = CALIBRATION_BINS) -> dict:
    """ECE of top-1 confidence and the reliability bins, defined exactly as src/eval/calibration.ts does.

    Confidence c = max_k p_k (clamped to [0, 1]); bins ((m-1)/M, m/M], a confidence of exactly 0 in the first;
    ECE = sum_m |B_m|/n * |acc(B_m) - conf(B_m)|. Empty bins have confidence and accuracy None (null in JSON).
    """
    probs = np.asarray(probs, dtype=np.float64)
    confidence = np.clip(probs.max(1), 0.0, 1.0)
    correct = probs.argmax(1) == np.asarray(y_true)
    index = np.clip(np.ceil(confidence * bins).astype(np.int64) - 1, 0, bins - 1)
    n, ece, reliability = len(confidence), 0.0, []
    for m in range(bins):
        in_bin = index == m
        count = int(in_bin.sum())
        row = {"lo": m / bins, "hi": (m + 1) / bins, "count": count, "confidence": None, "accuracy": None}
        if count:
            row["confidence"] = float(confidence[in_bin].mean())
            row["accuracy"] = float(correct[in_bin].mean())
            ece += count / n * abs(row["accuracy"] - row["confidence"])
        reliability.append(row)
    return {"ece": float(ece), "reliability": reliability}
