"""Classification metrics against the current labels, and the comparison of two model versions.

Pure numpy on (labels, probs); the store-facing wrappers live in `core.inference.compare`.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

ECE_BINS = 15


@dataclass(frozen=True, slots=True)
class ClassMetrics:
    name: str
    precision: float  # nan when the class is never predicted
    recall: float  # nan when the class has no labelled example
    f1: float
    support: int  # labelled examples


@dataclass(frozen=True, slots=True)
class Metrics:
    n: int
    accuracy: float
    balanced_accuracy: float  # mean recall over classes that have examples
    ece: float  # expected calibration error, ECE_BINS equal-width confidence bins
    per_class: list[ClassMetrics]
    confusion: np.ndarray  # (K, K) int, rows = label, cols = prediction

    def to_dict(self) -> dict:
        return {
            "n": self.n,
            "accuracy": self.accuracy,
            "balanced_accuracy": self.balanced_accuracy,
            "ece": self.ece,
            "per_class": [
                {"name": c.name, "precision": _nan_none(c.precision), "recall": _nan_none(c.recall),
                 "f1": _nan_none(c.f1), "support": c.support}
                for c in self.per_class
            ],
            "confusion": self.confusion.tolist(),
        }


def confusion_matrix(labels: np.ndarray, pred: np.ndarray, num_classes: int) -> np.ndarray:
    cm = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(cm, (np.asarray(labels, dtype=np.int64), np.asarray(pred, dtype=np.int64)), 1)
    return cm


def compute_metrics(labels: np.ndarray, probs: np.ndarray, class_names: list[str]) -> Metrics:
    """labels: class index per example (unlabelled examples must be left out by the caller)."""
    labels = np.asarray(labels, dtype=np.int64)
    probs = np.asarray(probs, dtype=np.float64)
    k = len(class_names)
    if probs.shape != (len(labels), k):
        raise ValueError(f"probs has shape {probs.shape}, expected ({len(labels)}, {k})")
    pred = probs.argmax(axis=1) if len(labels) else np.zeros(0, dtype=np.int64)
    conf = probs.max(axis=1) if len(labels) else np.zeros(0)
    bins = confidence_bin(conf)
    correct = pred == labels
    return metrics_from_counts(
        confusion_matrix(labels, pred, k),
        np.bincount(bins, minlength=ECE_BINS),
        np.bincount(bins, weights=conf, minlength=ECE_BINS),
        np.bincount(bins, weights=correct, minlength=ECE_BINS),
        class_names,
    )


def confidence_bin(conf: np.ndarray, bins: int = ECE_BINS) -> np.ndarray:
    """ECE bin of each top-class confidence: bins are (lo, hi], a confidence of 0 goes to the first."""
    return np.clip(np.ceil(np.asarray(conf) * bins).astype(np.int64) - 1, 0, bins - 1)


def metrics_from_counts(cm: np.ndarray, bin_n: np.ndarray, bin_conf: np.ndarray, bin_correct: np.ndarray,
                        class_names: list[str]) -> Metrics:
    """Metrics from aggregates alone: the confusion matrix and, per confidence bin, the number of
    examples, their summed confidence and how many were right. Lets a database compute them."""
    k = len(class_names)
    cm = np.asarray(cm, dtype=np.int64).reshape(k, k)
    tp = np.diag(cm).astype(float)
    support = cm.sum(axis=1)
    predicted = cm.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        precision = np.where(predicted > 0, tp / predicted, np.nan)
        recall = np.where(support > 0, tp / support, np.nan)
        f1 = np.where((precision + recall) > 0, 2 * precision * recall / (precision + recall), 0.0)
    # A class with no examples or no predictions has no defined F1.
    f1 = np.where(np.isnan(precision) | np.isnan(recall), np.nan, f1)
    per_class = [ClassMetrics(class_names[j], float(precision[j]), float(recall[j]), float(f1[j]), int(support[j]))
                 for j in range(k)]
    n = int(cm.sum())
    ece = float(np.abs(np.asarray(bin_correct, float) - np.asarray(bin_conf, float)).sum() / n) if n else float("nan")
    return Metrics(
        n=n,
        accuracy=float(tp.sum() / n) if n else float("nan"),
        balanced_accuracy=float(np.nanmean(recall)) if (support > 0).any() else float("nan"),
        ece=ece,
        per_class=per_class,
        confusion=cm,
    )


def _nan_none(x: float) -> float | None:
    return None if np.isnan(x) else x
