"""Model versions: a checkpoint file known to the project, its parent and the snapshot it was trained on."""
from __future__ import annotations

import json
import os
from dataclasses import asdict, is_dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from core.errors import InspectorError, NotFound
from core.store.clock import from_db, utcnow
from core.store.records import ModelVersionRecord
from core.store.schema import ModelVersion, Snapshot


def register_model_version(session: Session, path: str | os.PathLike, meta: Any, *, parent_id: int | None = None,
                   snapshot_id: int | None = None, name: str | None = None) -> int:
    """Record a checkpoint (meta: a CheckpointMeta or a dict with at least arch and class_names).
    Registering the same file again returns the existing id."""
    raw = _meta_dict(meta)
    arch, class_names = raw.get("arch"), raw.get("class_names")
    if not arch or not class_names:
        raise InspectorError(f"{path}: model metadata needs arch and class_names")
    path_str = str(Path(path).expanduser().resolve())
    existing = session.scalar(select(ModelVersion.id).where(ModelVersion.path == path_str))
    if existing is not None:
        return existing
    for ref, table, what in ((parent_id, ModelVersion, "model"), (snapshot_id, Snapshot, "snapshot")):
        if ref is not None and session.get(table, ref) is None:
            raise NotFound(f"no {what} with id {ref}")
    return session.execute(insert(ModelVersion).values(
        name=name or Path(path_str).stem, path=path_str, arch=arch, class_names=json.dumps(list(class_names)),
        parent_id=parent_id, snapshot_id=snapshot_id, created=utcnow(), meta=json.dumps(raw, default=str),
    ).returning(ModelVersion.id)).scalar_one()


def get_model_version(session: Session, model_id: int) -> ModelVersionRecord:
    m = session.get(ModelVersion, model_id)
    if m is None:
        raise NotFound(f"no model with id {model_id}")
    return _record(m)


def find_model_version(session: Session, path: str | os.PathLike) -> ModelVersionRecord | None:
    m = session.scalar(select(ModelVersion).where(ModelVersion.path == str(Path(path).expanduser().resolve())))
    return None if m is None else _record(m)


def list_model_versions(session: Session) -> list[ModelVersionRecord]:
    return [_record(m) for m in session.scalars(select(ModelVersion).order_by(ModelVersion.id))]


def _record(m: ModelVersion) -> ModelVersionRecord:
    return ModelVersionRecord(id=m.id, name=m.name, path=m.path, arch=m.arch, class_names=json.loads(m.class_names),
                       parent_id=m.parent_id, snapshot_id=m.snapshot_id, created=from_db(m.created),
                       meta=json.loads(m.meta))


def _meta_dict(meta: Any) -> dict[str, Any]:
    if isinstance(meta, dict):
        return dict(meta)
    if is_dataclass(meta):
        return asdict(meta)
    raise InspectorError(f"model metadata must be a CheckpointMeta or a dict, not {type(meta).__name__}")


def save_evaluation(session: Session, model_id: int, key: str, value: dict[str, Any]) -> None:
    """Keep a measurement of this model version with it (e.g. "faithfulness"), in its metadata
    under "evaluations"; the newest replaces an older one of the same key."""
    m = session.get(ModelVersion, model_id)
    if m is None:
        raise NotFound(f"no model with id {model_id}")
    meta = json.loads(m.meta)
    meta.setdefault("evaluations", {})[key] = value
    m.meta = json.dumps(meta, default=str)


def evaluation(record: ModelVersionRecord, key: str) -> dict[str, Any] | None:
    return (record.meta.get("evaluations") or {}).get(key)
