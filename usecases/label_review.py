"""Suspected label errors from the stored predictions of one model version (confident learning)."""
from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from core.inference.review import ReviewItem
    from core.store.project import Project


def review(project: Project, model_id: int | None = None) -> tuple[int, list[ReviewItem]]:
    """(the model version used, its ranked items); default: the newest version with predictions.
    The scores are saved, so the GUI's "suspected" filter and sort see them."""
    from core.inference.review import latest_predicted_model, review_model

    with project.session(write=True) as s:
        model_id = model_id if model_id is not None else latest_predicted_model(s)
        return model_id, review_model(s, model_id, save=True)
