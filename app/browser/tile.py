"""What one grid tile shows: a plain record made from the store's ImageRecord in a worker."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Tile:
    image_id: int
    name: str  # path relative to the dataset root
    abs_path: str
    content_hash: str | None
    label: str | None  # None = unlabeled
    label_version: int  # optimistic locking: a write names the version it saw
    predicted: str | None  # None = no prediction from the current model
    confidence: float | None
    review_score: float | None  # suspected label error score, higher = look sooner
    mask_path: str | None = None
    split: str | None = None
    review_reason: str | None = None  # "label_issue", "disagreement", "low_confidence" (core.inference.ranking)

    @property
    def disagrees(self) -> bool:
        return self.label is not None and self.predicted is not None and self.label != self.predicted
