"""Model versions side by side: how many images each predicted, metrics on the current labels,
and two versions compared image by image."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from core.inference.compare import ModelComparison
    from core.inference.metrics import Metrics
    from core.store.project import Project
    from core.store.records import ModelVersionRecord

CHANGED_PATHS_SHOWN = 2000  # a list longer than this is not read by anyone; the count says the rest
SPLITS = ("test", "val", "train", "all")  # what metrics and comparisons can be computed on; test by default


@dataclass(frozen=True, slots=True)
class VersionRow:
    record: ModelVersionRecord
    predictions: int  # images this version has predicted


@dataclass(frozen=True, slots=True)
class VersionComparison:
    comparison: ModelComparison
    paths: dict[int, str] = field(default_factory=dict)  # image id -> rel_path of the first changed images


def version_rows(project: Project) -> list[VersionRow]:
    from core.store.model_versions import list_model_versions
    from core.store.predictions import predicted_image_ids

    with project.session() as s:
        return [VersionRow(m, len(predicted_image_ids(s, m.id))) for m in list_model_versions(s)]


def version_metrics(project: Project, model_id: int, split: str = "test") -> Metrics:
    """Metrics on one split ("all": every labelled image). Held-out test by default: accuracy on
    the images a model was trained on says little about it."""
    from core.inference.compare import model_metrics

    with project.session() as s:
        return model_metrics(s, model_id, _splits(split))


def compare_versions(project: Project, before: int, after: int, split: str = "test") -> VersionComparison:
    from core.inference.compare import compare_models
    from core.store.queries import image_records

    with project.session(snapshot=True) as s:
        c = compare_models(s, before, after, _splits(split))
        paths = {r.id: r.rel_path for r in image_records(s, [i for i, _, _ in c.changed[:CHANGED_PATHS_SHOWN]])}
    return VersionComparison(c, paths)


def available_split(project: Project, wanted: str = "test") -> str:
    """`wanted` when the project has images in it, else "all" (a project without splits)."""
    from core.store.queries import ImageFilter, count_images

    if wanted == "all":
        return "all"
    with project.session() as s:
        return wanted if count_images(s, ImageFilter(splits=[wanted])) else "all"


def _splits(split: str) -> list[str] | None:
    if split not in SPLITS:
        from core.errors import InspectorError

        raise InspectorError(f"unknown split {split!r}; choose one of {', '.join(SPLITS)}")
    return None if split == "all" else [split]
