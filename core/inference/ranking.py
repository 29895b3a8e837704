"""Which images should a person look at first: suspected label errors, then disagreements, then doubt.

Label errors are found by confident learning (Northcutt, Jiang & Chuang, "Confident Learning:
Estimating Uncertainty in Dataset Labels", JAIR 2021), the way cleanlab's `find_label_issues`
does it with its defaults, in plain numpy:

1. per-class threshold t_j = mean predicted probability of class j over the examples labelled j;
2. confident joint C[given i, true j]: an example labelled i counts for the class j whose probability
   clears t_j (the most probable such class when several do);
3. calibrate C so that each row sums to the number of examples labelled i and the whole to n;
4. prune by noise rate: for every off-diagonal cell (i, j), flag the C[i, j] examples labelled i with
   the largest margin p_j - p_i (keeping at least one example per class);
5. rank the flagged examples by label quality (self-confidence p_label, or the normalised margin).

Probabilities should be out-of-sample (cross-validated) for this to work well: a model that has
memorised a wrong label is confident about it.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

UNLABELED = -1
REASONS = ("label_issue", "disagreement", "low_confidence")


@dataclass(frozen=True, slots=True)
class ReviewEntry:
    image_id: int
    reason: str  # one of REASONS
    score: float  # in [0, 1]; higher = look at it sooner
    label: int  # current label index, UNLABELED if none
    predicted: int
    confidence: float  # probability of the predicted class
    self_confidence: float  # probability of the current label (nan when unlabelled)


def per_class_thresholds(labels: np.ndarray, probs: np.ndarray) -> np.ndarray:
    """t_j = mean p_j over examples labelled j; inf for a class nobody carries (never confident)."""
    k = probs.shape[1]
    t = np.full(k, np.inf)
    for j in range(k):
        sel = labels == j
        if sel.any():
            t[j] = probs[sel, j].mean()
    return t


def confident_joint(labels: np.ndarray, probs: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Uncalibrated confident joint (K, K), rows = given label, cols = guessed true label.

    Returns (joint, true_guess, confident) where `confident` marks the examples counted in it.
    """
    labels, probs = _check(labels, probs)
    k = probs.shape[1]
    # cleanlab subtracts 1e-6 so that an example exactly at the mean counts as confident.
    above = probs >= per_class_thresholds(labels, probs) - 1e-6
    n_above = above.sum(axis=1)
    guess = np.where(n_above > 1, np.argmax(np.where(above, probs, -1.0), axis=1), probs.argmax(axis=1))
    confident = n_above > 0
    joint = np.zeros((k, k), dtype=np.int64)
    np.add.at(joint, (labels[confident], guess[confident]), 1)
    return joint, guess, confident


def calibrate_joint(joint: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Rescale rows to the given-label counts, then the whole to n; integer cells, row totals kept."""
    k = joint.shape[0]
    counts = np.bincount(labels, minlength=k).astype(float)
    cal = joint / np.clip(joint.sum(axis=1, keepdims=True), 1, None) * counts[:, None]
    cal = cal / max(cal.sum(), 1.0) * counts.sum()
    return _round_keeping_row_totals(cal)


def find_label_issues(labels: np.ndarray, probs: np.ndarray) -> np.ndarray:
    """Boolean mask of suspected label errors (cleanlab's default filter_by="prune_by_noise_rate")."""
    labels, probs = _check(labels, probs)
    n, k = probs.shape
    issues = np.zeros(n, dtype=bool)
    if n == 0:
        return issues
    joint, _, _ = confident_joint(labels, probs)
    prune = calibrate_joint(joint, labels)
    for given in range(k):
        members = np.flatnonzero(labels == given)
        off = prune[given].copy()
        off[given] = 0
        # Keep at least one example of every class: scale the removals down if they would empty it.
        budget = max(len(members) - 1, 0)
        if off.sum() > budget:
            off = np.floor(off * budget / off.sum()).astype(np.int64)
        for true in np.flatnonzero(off > 0):
            margin = probs[members, true] - probs[members, given]
            order = np.argsort(-margin, kind="stable")[: off[true]]
            issues[members[order]] = True
    return issues


def label_quality(labels: np.ndarray, probs: np.ndarray, method: str = "self_confidence") -> np.ndarray:
    """Per example in [0, 1]; low = the label looks wrong. Methods as in cleanlab.rank."""
    labels, probs = _check(labels, probs)
    idx = np.arange(len(labels))
    self_conf = probs[idx, labels]
    if method == "self_confidence":
        return self_conf
    if method == "normalized_margin":
        others = probs.copy()
        others[idx, labels] = -np.inf
        best_other = others.max(axis=1) if probs.shape[1] > 1 else np.zeros(len(labels))
        return (self_conf - best_other + 1.0) / 2.0
    raise ValueError(f"unknown label quality method {method!r}")


def rank_for_review(
    image_ids: np.ndarray,
    labels: np.ndarray,
    probs: np.ndarray,
    *,
    method: str = "self_confidence",
    low_confidence: float = 0.6,
) -> list[ReviewEntry]:
    """All images worth a look, best first; each image once, under its strongest reason.

    labels: class index per image, UNLABELED (-1) for none. Order: confident-learning label issues
    (by label quality), then label != prediction (by label quality), then predictions whose
    confidence is below `low_confidence` (by confidence; unlabelled images appear only here).
    """
    image_ids = np.asarray(image_ids)
    labels = np.asarray(labels, dtype=np.int64)
    probs = np.asarray(probs, dtype=np.float64)
    if len(image_ids) != len(labels) or len(labels) != len(probs):
        raise ValueError("image_ids, labels and probs must have the same length")
    pred = probs.argmax(axis=1) if len(probs) else np.zeros(0, dtype=np.int64)
    conf = probs.max(axis=1) if len(probs) else np.zeros(0)
    labelled = labels != UNLABELED
    li = np.flatnonzero(labelled)
    issue = np.zeros(len(labels), dtype=bool)
    quality = np.full(len(labels), np.nan)
    self_conf = np.full(len(labels), np.nan)
    if len(li):
        issue[li] = find_label_issues(labels[li], probs[li])
        quality[li] = label_quality(labels[li], probs[li], method)
        self_conf[li] = probs[li, labels[li]]

    def entry(i: int, reason: str, score: float) -> ReviewEntry:
        return ReviewEntry(int(image_ids[i]), reason, float(np.clip(score, 0.0, 1.0)), int(labels[i]),
                           int(pred[i]), float(conf[i]), float(self_conf[i]))

    out: list[ReviewEntry] = []
    flagged = np.flatnonzero(issue)
    for i in flagged[np.argsort(quality[flagged], kind="stable")]:
        out.append(entry(i, "label_issue", 1.0 - quality[i]))
    disagree = np.flatnonzero(labelled & ~issue & (pred != labels))
    for i in disagree[np.argsort(quality[disagree], kind="stable")]:
        out.append(entry(i, "disagreement", 1.0 - quality[i]))
    rest = np.flatnonzero(~issue & ~(labelled & (pred != labels)) & (conf < low_confidence))
    for i in rest[np.argsort(conf[rest], kind="stable")]:
        out.append(entry(i, "low_confidence", 1.0 - conf[i]))
    return out


def describe(entry: ReviewEntry, class_names: list[str]) -> str:
    """One line a person understands."""
    pred = class_names[entry.predicted]
    if entry.reason == "low_confidence":
        return f"unsure: predicted {pred} at {entry.confidence:.0%}"
    label = class_names[entry.label]
    if entry.reason == "label_issue":
        return f"label {label} looks wrong: model says {pred} ({entry.confidence:.0%}, {label} {entry.self_confidence:.0%})"
    return f"label {label}, predicted {pred} ({entry.confidence:.0%})"


def _check(labels: np.ndarray, probs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    labels = np.asarray(labels, dtype=np.int64)
    probs = np.asarray(probs, dtype=np.float64)
    if probs.ndim != 2 or labels.shape != (probs.shape[0],):
        raise ValueError(f"probs must be (n, classes) and labels (n,), got {probs.shape} and {labels.shape}")
    if len(labels) and (labels.min() < 0 or labels.max() >= probs.shape[1]):
        raise ValueError("labels must be class indices into the columns of probs")
    return labels, probs


def _round_keeping_row_totals(m: np.ndarray) -> np.ndarray:
    """Round each row to integers whose sum is the row's rounded total (largest remainders win)."""
    out = np.floor(m).astype(np.int64)
    for r in range(m.shape[0]):
        missing = int(round(m[r].sum())) - int(out[r].sum())
        if missing > 0:
            out[r, np.argsort(-(m[r] - out[r]), kind="stable")[:missing]] += 1
    return out
