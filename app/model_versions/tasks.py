"""Worker functions for the models panel (plain records out; torch only where a checkpoint is read)."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ModelRow:
    record: object  # core.store.records.ModelVersionRecord
    predictions: int


def list_model_rows(_ctx, project) -> list[ModelRow]:
    from core.store.model_versions import list_model_versions
    from core.store.predictions import predicted_image_ids

    with project.session() as s:
        return [ModelRow(m, len(predicted_image_ids(s, m.id))) for m in list_model_versions(s)]


def metrics(_ctx, project, model_id: int):
    """core.inference.metrics.Metrics of a model version on the current labels."""
    from core.inference.compare import model_metrics

    with project.session() as s:
        return model_id, model_metrics(s, model_id)


def compare(_ctx, project, model_a: int, model_b: int):
    """(ModelComparison, {image id: rel_path} of the images whose prediction changed)."""
    from core.inference.compare import compare_models
    from core.store.queries import image_records

    with project.session() as s:
        c = compare_models(s, model_a, model_b)
        names = {r.id: r.rel_path for r in image_records(s, [i for i, _, _ in c.changed[:2000]])}
    return c, names
