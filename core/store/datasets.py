"""Datasets: the folders images live in. Images are stored relative to the root, so moving the data
(new mount point, copied to another disk) is one update of the root."""
from __future__ import annotations

import os
from pathlib import Path

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from core.errors import InspectorError, NotFound
from core.store.clock import from_db
from core.store.records import DatasetRecord
from core.store.schema import Dataset


def list_datasets(session: Session) -> list[DatasetRecord]:
    return [DatasetRecord(d.id, d.root, d.format, from_db(d.created))
            for d in session.scalars(select(Dataset).order_by(Dataset.id))]


def relocate_dataset(session: Session, new_root: str | os.PathLike, *, dataset_id: int | None = None) -> DatasetRecord:
    """Point a dataset at a new folder. `dataset_id` may be left out when the project has one dataset."""
    datasets = list_datasets(session)
    if dataset_id is None:
        if len(datasets) != 1:
            raise InspectorError(f"the project has {len(datasets)} datasets; say which one to relocate")
        dataset_id = datasets[0].id
    elif dataset_id not in {d.id for d in datasets}:
        raise NotFound(f"no dataset with id {dataset_id}")
    root = Path(new_root).expanduser()
    if not root.is_dir():
        raise InspectorError(f"{root}: not a folder")
    root_str = str(root.resolve())
    session.execute(update(Dataset).where(Dataset.id == dataset_id).values(root=root_str))
    return next(DatasetRecord(d.id, root_str, d.format, d.created) for d in datasets if d.id == dataset_id)
