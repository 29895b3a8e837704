"""What the filter panel asks for, in GUI terms; `store_source` turns it into a core query."""
from __future__ import annotations

from dataclasses import dataclass

SORTS = {
    "name": "Name",
    "confidence": "Confidence (low first)",
    "-confidence": "Confidence (high first)",
    "-score": "Suspected label error (likely first)",
}


@dataclass(frozen=True, slots=True)
class FilterState:
    labels: tuple[str, ...] = ()  # empty = any label
    predicted: tuple[str, ...] = ()  # empty = any prediction
    confidence: tuple[float, float] = (0.0, 1.0)
    disagreement: bool = False
    suspected: bool = False
    unlabeled: bool = False
    split: str | None = None
    changed_by_me: bool = False
    sort: str = "name"

    @property
    def confidence_filtered(self) -> bool:
        return self.confidence[0] > 0.0 or self.confidence[1] < 1.0
