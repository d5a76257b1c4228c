"""Classification metrics with the same names and shapes as `emolens eval --json`."""
from __future__ import annotations

import numpy as np

from .data import EMOTIONS


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
