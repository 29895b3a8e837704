"""Predictions per model version, and review scores (suspected label errors) derived from them.

Probabilities are stored whole as float32 bytes (the ranking and the GUI need them); the summary
columns (top class, confidence, margin, entropy) are computed here once so filters are index scans.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
from sqlalchemy import bindparam, delete, insert, select
from sqlalchemy.orm import Session

from core.errors import InspectorError, NotFound
from core.store.classes import class_ids
from core.store.model_versions import get_model_version
from core.store.schema import Image, Prediction, ReviewScore

CHUNK = 5000
pred = Prediction.__table__
rev = ReviewScore.__table__


def save_predictions(session: Session, model_id: int, image_ids: Sequence[int], probs: Any) -> int:
    """Store (or replace) the class probabilities of `model_id` for these images. probs: (N, C)."""
    model = get_model_version(session, model_id)
    p = np.asarray(probs, dtype=np.float32)
    ids = np.asarray(image_ids, dtype=np.int64).reshape(-1)
    if p.ndim != 2 or p.shape[0] != ids.shape[0] or p.shape[1] != len(model.class_names):
        raise InspectorError(f"probabilities of shape {p.shape} do not match {ids.shape[0]} images x "
                             f"{len(model.class_names)} classes of model {model.name}")
    if not np.isfinite(p).all():
        raise InspectorError("probabilities contain NaN or infinity")
    paths = _rel_paths(session, ids.tolist())
    known = class_ids(session)
    to_class = [known.get(n) for n in model.class_names]
    order = np.argsort(-p, axis=1)
    top = order[:, 0]
    conf = p[np.arange(len(p)), top]
    second = p[np.arange(len(p)), order[:, 1]] if p.shape[1] > 1 else np.zeros(len(p), np.float32)
    entropy = -(p * np.log(np.clip(p, 1e-12, None))).sum(axis=1)
    rows = [{"model_id": model_id, "image_id": int(i), "top_index": int(t), "class_id": to_class[int(t)],
             "rel_path": paths[int(i)][0], "label_class_id": paths[int(i)][1],
             "confidence": float(c), "margin": float(c - s), "entropy": float(e),
             "probs": p[k].astype("<f4").tobytes()}
            for k, (i, t, c, s, e) in enumerate(zip(ids, top, conf, second, entropy))]
    # Delete-then-insert rather than a dialect-specific upsert: portable to a server database.
    for k in range(0, len(rows), CHUNK):
        chunk = rows[k:k + CHUNK]
        session.execute(delete(pred).where(pred.c.model_id == model_id, pred.c.image_id == bindparam("iid")),
                        [{"iid": r["image_id"]} for r in chunk])
        session.execute(insert(pred), chunk)
    return len(rows)


def _rel_paths(session: Session, ids: list[int]) -> dict[int, tuple[str, int | None]]:
    """image id -> (rel_path, current label class id), the copies a prediction row keeps."""
    img = Image.__table__
    out: dict[int, tuple[str, int | None]] = {}
    for k in range(0, len(ids), 500):
        for iid, rel, cid in session.execute(
                select(img.c.id, img.c.rel_path, img.c.class_id).where(img.c.id.in_(ids[k:k + 500]))):
            out[iid] = (rel, cid)
    missing = [i for i in ids if i not in out]
    if missing:
        raise NotFound(f"no image with id {missing[0]}" + (f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""))
    return out


def predicted_image_ids(session: Session, model_id: int) -> set[int]:
    return set(session.scalars(select(pred.c.image_id).where(pred.c.model_id == model_id)))


def load_predictions(session: Session, model_id: int) -> tuple[np.ndarray, np.ndarray]:
    """(image ids int64 (N,), probabilities float32 (N, C)), ordered by image id."""
    n_classes = len(get_model_version(session, model_id).class_names)
    rows = session.execute(select(pred.c.image_id, pred.c.probs).where(pred.c.model_id == model_id)
                           .order_by(pred.c.image_id)).all()
    ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
    probs = np.frombuffer(b"".join(r[1] for r in rows), dtype="<f4").reshape(len(rows), n_classes)
    return ids, probs.astype(np.float32, copy=True)


def save_review_scores(session: Session, model_id: int, rows: Iterable[Any]) -> int:
    """Replace the model's review scores. rows: (image_id, score, reason) tuples or dicts with those keys.
    A higher score = more likely a label error."""
    get_model_version(session, model_id)
    values = []
    for r in rows:
        if isinstance(r, dict):
            image_id, score, reason = r["image_id"], r["score"], r.get("reason")
        else:
            image_id, score, *rest = r
            reason = rest[0] if rest else None
        values.append({"model_id": model_id, "image_id": int(image_id), "score": float(score), "reason": reason})
    session.execute(delete(rev).where(rev.c.model_id == model_id))
    for k in range(0, len(values), CHUNK):
        session.execute(insert(rev), values[k:k + CHUNK])
    return len(values)
