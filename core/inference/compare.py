"""Metrics of a model version on the current labels, and two versions compared on the same images."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from core.errors import InspectorError
from core.inference.metrics import (
    ECE_BINS,
    Metrics,
    compute_metrics,
    metrics_from_counts,
)
from core.inference.ranking import UNLABELED
from core.inference.review import labels_for


@dataclass
class ModelComparison:
    model_a: int
    model_b: int
    n: int  # labelled images predicted by both
    metrics_a: Metrics
    metrics_b: Metrics
    changed: list[tuple[int, str, str]]  # (image id, prediction of a, prediction of b), any image predicted by both
    fixed: list[int]  # wrong under a, right under b (current labels)
    broken: list[int]  # right under a, wrong under b
    alpha_change: list[np.ndarray] | None  # per layer alpha_b - alpha_a; None when the architectures differ


def model_metrics(session: Session, model_id: int, splits: list[str] | None = None) -> Metrics:
    """Metrics of a model version on the current labels, aggregated by the database; `splits`:
    only images of those splits (None: all).

    Only (label, prediction, confidence bin) counts leave the database, never a row per image: at
    100k images the Python loop over rows held the GIL long enough to stall the GUI thread."""
    from core.store import classes as store_classes
    from core.store import model_versions
    from core.store.schema import Image, Prediction

    names = list(model_versions.get_model_version(session, model_id).class_names)
    index_of_class = {cid: names.index(name) for name, cid in store_classes.class_ids(session).items() if name in names}
    k = len(names)
    cm = np.zeros((k, k), dtype=np.int64)
    bin_n, bin_conf, bin_correct = np.zeros(ECE_BINS), np.zeros(ECE_BINS), np.zeros(ECE_BINS)
    pred = Prediction.__table__
    # The bin is ceil(confidence * B) - 1, clipped to [0, B - 1], as `confidence_bin` computes it:
    # comparisons rather than CAST or FLOOR, which round differently in SQLite and PostgreSQL.
    scaled = pred.c.confidence * ECE_BINS
    rows = (select(pred.c.label_class_id, pred.c.top_index, pred.c.confidence,
                   case(*[(scaled <= b, b - 1) for b in range(1, ECE_BINS)], else_=ECE_BINS - 1).label("bin"))
            .where(pred.c.model_id == model_id, pred.c.label_class_id.is_not(None)))
    if splits is not None:
        image = Image.__table__
        rows = rows.join_from(pred, image, image.c.id == pred.c.image_id).where(image.c.split.in_(list(splits)))
    rows = rows.subquery()
    counts = session.execute(
        select(rows.c.label_class_id, rows.c.top_index, rows.c.bin, func.count(), func.sum(rows.c.confidence))
        .group_by(rows.c.label_class_id, rows.c.top_index, rows.c.bin))
    for class_id, top, b, count, conf_sum in counts:
        label = index_of_class.get(class_id)
        if label is None or not 0 <= top < k:
            continue  # a label this model does not know counts as unlabelled for it
        cm[label, top] += count
        bin_n[b] += count
        bin_conf[b] += conf_sum
        bin_correct[b] += count if label == top else 0
    return metrics_from_counts(cm, bin_n, bin_conf, bin_correct, names)


def compare_models(session: Session, model_a: int, model_b: int, splits: list[str] | None = None) -> ModelComparison:
    """Image by image on the images both predicted (`splits`: only those splits)."""
    from core.store import model_versions
    from core.store import predictions as store_predictions

    rec_a, rec_b = model_versions.get_model_version(session, model_a), model_versions.get_model_version(session, model_b)
    names_a, names_b = list(rec_a.class_names), list(rec_b.class_names)
    if names_a != names_b:
        raise InspectorError(f"models {model_a} and {model_b} have different classes; they cannot be compared image by image")
    ids_a, probs_a = store_predictions.load_predictions(session, model_a)
    ids_b, probs_b = store_predictions.load_predictions(session, model_b)
    pos_a = {int(i): k for k, i in enumerate(ids_a)}
    pos_b = {int(i): k for k, i in enumerate(ids_b)}
    common = sorted(set(pos_a) & set(pos_b))
    if splits is not None:
        common = sorted(set(common) & split_image_ids(session, splits))
    pa = np.asarray(probs_a)[[pos_a[i] for i in common]] if common else np.zeros((0, len(names_a)))
    pb = np.asarray(probs_b)[[pos_b[i] for i in common]] if common else np.zeros((0, len(names_a)))
    labels, _ = labels_for(session, common, names_a)
    keep = labels != UNLABELED
    top_a, top_b = pa.argmax(1), pb.argmax(1)
    ids = np.array(common, dtype=np.int64)
    changed = [(int(i), names_a[a], names_a[b]) for i, a, b in zip(ids, top_a, top_b) if a != b]
    right_a, right_b = (top_a == labels) & keep, (top_b == labels) & keep
    return ModelComparison(
        model_a=model_a, model_b=model_b, n=int(keep.sum()),
        metrics_a=compute_metrics(labels[keep], pa[keep], names_a),
        metrics_b=compute_metrics(labels[keep], pb[keep], names_a),
        changed=changed,
        fixed=ids[~right_a & right_b].tolist(),
        broken=ids[right_a & ~right_b].tolist(),
        alpha_change=alpha_change(rec_a.path, rec_b.path),
    )


def checkpoint_alphas(path: str) -> list[np.ndarray]:
    """Per attention layer, the alphas stored in a checkpoint, read without building the model."""
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as f:
        keys = [k for k in f.keys() if k.endswith("attn.alpha")]
        return [f.get_tensor(k).float().numpy() for k in sorted(keys, key=_layer_order)]


def alpha_change(path_a: str, path_b: str) -> list[np.ndarray] | None:
    try:
        a, b = checkpoint_alphas(path_a), checkpoint_alphas(path_b)
    except OSError:
        return None  # a checkpoint file moved or deleted: predictions can still be compared
    if len(a) != len(b) or any(x.shape != y.shape for x, y in zip(a, b)):
        return None
    return [y - x for x, y in zip(a, b)]


def _layer_order(key: str) -> tuple:
    # "stages.1.blocks.10.attn.alpha": numeric parts compared as numbers, not strings.
    return tuple(int(p) if p.isdigit() else p for p in key.split("."))


def split_image_ids(session: Session, splits: list[str]) -> set[int]:
    from core.store.schema import Image

    return set(session.scalars(select(Image.id).where(Image.split.in_(list(splits)))))
