"""Tiles from the project store (runs in worker threads, one session per call)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from app.browser.filter_state import FilterState
from app.browser.tile import Tile

if TYPE_CHECKING:
    from core.store.project import Project
    from core.store.queries import ImageFilter
    from core.store.records import ImageRecord


@dataclass(frozen=True, slots=True)
class TileQuery:
    filters: FilterState
    model_id: int | None
    user: str


def image_filter(q: TileQuery) -> ImageFilter:
    from core.store.queries import ImageFilter

    f = q.filters
    lo, hi = f.confidence
    return ImageFilter(
        labels=list(f.labels) or None,
        unlabeled=f.unlabeled,
        splits=[f.split] if f.split else None,
        model_id=q.model_id,
        predicted=(list(f.predicted) or None) if q.model_id is not None else None,
        min_confidence=lo if q.model_id is not None and lo > 0.0 else None,
        max_confidence=hi if q.model_id is not None and hi < 1.0 else None,
        disagree=f.disagreement and q.model_id is not None,
        suspected=f.suspected and q.model_id is not None,
        changed_by=q.user if f.changed_by_me else None,
    )


def sort_key(q: TileQuery) -> str:
    # Without a model there is no confidence or score to sort by.
    return q.filters.sort if q.model_id is not None else "name"


def to_tile(r: ImageRecord) -> Tile:
    return Tile(image_id=r.id, name=r.rel_path, abs_path=r.abs_path, content_hash=r.content_hash, label=r.label,
                label_version=r.label_version, predicted=r.predicted, confidence=r.confidence,
                review_score=r.score, mask_path=r.mask_path, split=r.split, review_reason=r.reason)


class StoreTileSource:
    def __init__(self, project: Project):
        self.project = project

    def count(self, q: TileQuery) -> int:
        from core.store.queries import count_images

        with self.project.session() as s:
            return int(count_images(s, image_filter(q)))

    def page(self, q: TileQuery, offset: int, limit: int) -> list[Tile]:
        """Rows offset .. offset + limit. Sorted by confidence or score, the images that have one
        come first in that order, then those without, by name: every counted row is a tile."""
        from dataclasses import replace

        from core.store.queries import count_images, query_images

        flt, sort = image_filter(q), sort_key(q)
        key = sort.lstrip("-")
        with self.project.session() as s:
            rows = query_images(s, flt, sort=sort, offset=offset, limit=limit)
            if key in ("confidence", "score") and len(rows) < limit:
                lacking = replace(flt, lacks="prediction" if key == "confidence" else "score")
                ranked = count_images(s, flt) - count_images(s, lacking)
                rows += query_images(s, lacking, sort="name", offset=max(0, offset - ranked), limit=limit - len(rows))
            return [to_tile(r) for r in rows]

    def tiles(self, q: TileQuery, image_ids: list[int]) -> list[Tile]:
        """The current state of some images, whether or not they still match the filter."""
        from core.store.queries import image_records

        with self.project.session() as s:
            return [to_tile(r) for r in image_records(s, image_ids, model_id=q.model_id)]
