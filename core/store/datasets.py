"""Datasets: the folders images live in. Images are stored relative to the root, so moving the data
(new mount point, copied to another disk) is one update of the root.

The stored root is the project's name for the folder, the same for everybody sharing the database;
a workstation that mounts it elsewhere maps it to its own folder (core.store.root_map)."""
from __future__ import annotations

import os
from pathlib import Path

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from core.errors import InspectorError, NotFound
from core.store.clock import from_db
from core.store.records import DatasetRecord
from core.store.schema import Dataset, Image


def list_datasets(session: Session) -> list[DatasetRecord]:
    return [DatasetRecord(d.id, d.root, d.format, from_db(d.created))
            for d in session.scalars(select(Dataset).order_by(Dataset.id))]


def relocate_dataset(session: Session, new_root: str | os.PathLike, *, dataset_id: int | None = None) -> DatasetRecord:
    """Point a dataset at a new folder, for everybody. `dataset_id` may be left out when the project has
    one dataset. When the data only sits elsewhere on this workstation (a shared database, storage
    mounted at another place), map the root instead (`inspector roots set`): other workstations keep
    theirs, and their mappings stay keyed on the stored root this would change."""
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


def find_dataset(session: Session, root_or_id: str | int) -> DatasetRecord:
    """A dataset by id (an int or ASCII digits) or by its stored root (as `list_datasets` shows it)."""
    datasets = list_datasets(session)
    text = str(root_or_id).strip()
    if isinstance(root_or_id, int) or (text.isascii() and text.isdigit()):
        found = next((d for d in datasets if d.id == int(text)), None)
    else:
        found = next((d for d in datasets if d.root == text), None) or next(
            (d for d in datasets if os.path.normpath(d.root) == os.path.normpath(text)), None)
    if found is None:
        known = "; ".join(f"{d.id}: {d.root}" for d in datasets) or "none yet: import a dataset first"
        raise NotFound(f"no dataset {text!r} in this project (give its id or stored root; datasets: {known})")
    return found


def hashed_sample(session: Session, dataset_id: int, n: int) -> list[tuple[str, str]]:
    """Up to `n` (rel_path, content_hash) of the dataset's images that have a hash and were present at
    the last import, evenly spread over it in path order (the same ones every time)."""
    img = Image.__table__
    cond = (img.c.dataset_id == dataset_id, img.c.content_hash.is_not(None), img.c.missing.is_(False))
    total = session.scalar(select(func.count()).select_from(img).where(*cond)) or 0
    if total == 0 or n <= 0:
        return []
    picks = list(range(total)) if total <= n else [k * total // n for k in range(n)]
    ranked = select(img.c.rel_path, img.c.content_hash,
                    (func.row_number().over(order_by=img.c.rel_path) - 1).label("rank")).where(*cond).subquery()
    return [(r, h) for r, h in session.execute(
        select(ranked.c.rel_path, ranked.c.content_hash).where(ranked.c.rank.in_(picks)).order_by(ranked.c.rank))]
