"""Review ranking for a project: stored predictions of one model version + current labels.

Labels are mapped into the model's class order by name; a label the model does not know cannot be
judged by it, so such images are treated as unlabelled (they can still show up as low-confidence).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from core.errors import InspectorError
from core.inference.ranking import UNLABELED, ReviewEntry, describe, rank_for_review

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from core.store.records import ImageRecord


@dataclass(frozen=True, slots=True)
class ReviewItem:
    rank: int
    image_id: int
    rel_path: str
    label: str | None
    predicted: str
    confidence: float
    score: float
    reason: str
    message: str

    def to_dict(self) -> dict:
        return {k: getattr(self, k) for k in self.__slots__}


def labels_for(session: Session, image_ids: list[int], class_names: list[str]) -> tuple[np.ndarray, dict[int, ImageRecord]]:
    """Current labels as indices into `class_names` (UNLABELED if none or unknown), and the records."""
    from core.store.queries import image_records

    records = {r.id: r for r in image_records(session, image_ids)}
    index = {c: i for i, c in enumerate(class_names)}
    labels = np.array([index.get(records[i].label, UNLABELED) if i in records else UNLABELED for i in image_ids],
                      dtype=np.int64)
    return labels, records


def review_model(session: Session, model_id: int, *, method: str = "self_confidence", low_confidence: float = 0.6,
                 save: bool = True) -> list[ReviewItem]:
    """Rank all images predicted by `model_id`; with save=True, store the scores for the GUI's filters."""
    from core.store import model_versions
    from core.store import predictions as store_predictions

    record = model_versions.get_model_version(session, model_id)
    ids, probs = store_predictions.load_predictions(session, model_id)
    ids = [int(i) for i in ids]
    if not ids:
        raise InspectorError(f"model {model_id} has no predictions yet: run `inspector predict` first")
    names = list(record.class_names)
    labels, records = labels_for(session, ids, names)
    entries = rank_for_review(np.array(ids), labels, np.asarray(probs), method=method, low_confidence=low_confidence)
    if save:
        store_predictions.save_review_scores(session, model_id, [(e.image_id, e.score, e.reason) for e in entries])
    return [review_item(rank, e, records, names) for rank, e in enumerate(entries, 1)]


def review_item(rank: int, e: ReviewEntry, records: dict[int, ImageRecord], names: list[str]) -> ReviewItem:
    """A ranked entry as a person reads it; records: ImageRecords by image id."""
    r = records.get(e.image_id)
    return ReviewItem(rank, e.image_id, r.rel_path if r else str(e.image_id), r.label if r else None,
                      names[e.predicted], e.confidence, e.score, e.reason, describe(e, names))


def latest_predicted_model(session: Session) -> int:
    """The newest model version that has predictions: what `review` uses by default."""
    from core.store import model_versions
    from core.store import predictions as store_predictions

    for m in sorted(model_versions.list_model_versions(session), key=lambda m: m.id, reverse=True):
        if store_predictions.predicted_image_ids(session, m.id):
            return m.id
    raise InspectorError("no model has predictions in this project: run `inspector predict` first")
