"""Register a checkpoint as a model version, and predict a project's images with one."""
from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from core.errors import InspectorError
from core.progress import Reporter, silent

if TYPE_CHECKING:
    from core.inference.predict import PredictReport
    from core.store.project import Project


def register_checkpoint(project: Project, checkpoint: str | os.PathLike, *, name: str | None = None) -> int:
    """The model version of this checkpoint file, registered now if it is new."""
    from core.model.checkpoint import read_metadata
    from core.store.model_versions import register_model_version

    path = Path(checkpoint).expanduser().resolve()
    meta = read_metadata(path)  # a clear error for a non-checkpoint before anything is written
    with project.session(write=True) as s:
        return register_model_version(s, path, meta, name=name, parent_id=_exported_from(s, meta))


def _exported_from(session, meta) -> int | None:
    """For an ONNX export: the model version of the checkpoint it came from, when this project has it."""
    from core.store.model_versions import find_model_version

    source = (meta.provenance.get("onnx") or {}).get("source_path")
    record = find_model_version(session, source) if source else None
    return None if record is None else record.id


def check_options(batch_size: int, num_workers: int | None) -> None:
    """Refuse bad batching options before anything is registered or loaded."""
    if batch_size < 1 or (num_workers is not None and num_workers < 0):
        raise InspectorError("--batch-size must be at least 1 and --workers at least 0")


def predict(project: Project, model_id: int, *, device: str = "auto", batch_size: int = 32,
            num_workers: int | None = None, rank: bool = False, progress: Reporter | None = None) -> PredictReport:
    """Predict every image model version `model_id` has not seen yet (resumable; a cancel keeps
    what was stored). `rank`: then rank suspected label errors, so the browser can filter on them."""
    from core.inference.predict import predict_project
    from core.inference.review import review_model

    check_options(batch_size, num_workers)
    progress = progress or silent()
    report = predict_project(project, model_id, device=device, batch_size=batch_size, num_workers=num_workers,
                             progress=progress)
    if rank and not report.cancelled and report.predicted:
        progress.progress(0, 0, "ranking suspected label errors")
        with project.session() as s:
            review_model(s, model_id, save=True)
    return report


def attention_checkpoint(record) -> str | None:
    """The PyTorch checkpoint that explains a model version: its own file, or for an ONNX export the
    checkpoint it was exported from (same weights; for int8 the float ones), None when that is gone."""
    source = (record.meta.get("provenance") or {}).get("onnx", {}).get("source_path")
    if not str(record.path).lower().endswith(".onnx"):
        return record.path
    return source if source and Path(source).is_file() else None
