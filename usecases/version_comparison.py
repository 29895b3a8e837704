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


def version_metrics(project: Project, model_id: int) -> Metrics:
    from core.inference.compare import model_metrics

    with project.session() as s:
        return model_metrics(s, model_id)


def compare_versions(project: Project, before: int, after: int) -> VersionComparison:
    from core.inference.compare import compare_models
    from core.store.queries import image_records

    with project.session(snapshot=True) as s:
        c = compare_models(s, before, after)
        paths = {r.id: r.rel_path for r in image_records(s, [i for i, _, _ in c.changed[:CHANGED_PATHS_SHOWN]])}
    return VersionComparison(c, paths)
