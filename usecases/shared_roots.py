"""`inspector roots`: which local folder holds each dataset of a shared project on this workstation.

A mapping is checked before it is saved: a sample of the dataset's images is hashed under the new
folder and compared with the hashes the project recorded at import, so a typo or the wrong share is
refused by name instead of showing up later as missing images (core.store.root_map has the file)."""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from core.errors import InspectorError

if TYPE_CHECKING:
    from core.store.project import Project
    from core.store.records import DatasetRecord

SAMPLE = 8  # images hashed to accept a folder: enough to catch another dataset or a stale copy, quick on a share


@dataclass(frozen=True, slots=True)
class RootStatus:
    dataset_id: int | None  # None: a mapping left over for a root no dataset has any more
    stored_root: str
    local: str | None  # this workstation's folder, None when the stored root is used as it is
    reachable: bool  # the folder images are read from (local, else stored) is there now

    @property
    def folder(self) -> str:
        return self.local or self.stored_root


@dataclass(frozen=True, slots=True)
class RootSet:
    dataset: DatasetRecord
    local: str
    sampled: int  # images compared by content hash; 0: nothing to compare (an empty dataset, or no hashes)
    problem: str | None  # why the folder does not look like the dataset; only with force
    settings: Path


def list_roots(project: Project) -> list[RootStatus]:
    """Every dataset with its folder on this workstation, then any mapping no dataset uses."""
    from core.store.datasets import list_datasets
    from core.store.root_map import load_projects, project_key

    with project.session() as s:
        datasets = list_datasets(s)
    mapped = load_projects().get(project_key(project), {})
    out = [RootStatus(d.id, d.root, mapped.get(d.root), os.path.isdir(mapped.get(d.root, d.root))) for d in datasets]
    known = {d.root for d in datasets}
    out += [RootStatus(None, r, local, os.path.isdir(local)) for r, local in sorted(mapped.items()) if r not in known]
    return out


def set_root(project: Project, root: str | int, local: str | os.PathLike, *, force: bool = False,
             sample: int = SAMPLE) -> RootSet:
    """Read dataset `root` (its id or stored root) from `local` on this workstation, once a sample of
    its images there matches the project's content hashes; `force` saves it whatever the check says."""
    from core.store.datasets import find_dataset, hashed_sample
    from core.store.root_map import copy_problem, project_key, save_mapping

    folder = os.path.normpath(os.path.abspath(os.path.expanduser(os.fspath(local))))
    with project.session() as s:
        dataset = find_dataset(s, root)
        picks = hashed_sample(s, dataset.id, sample)
    if not os.path.isdir(folder):
        problem = f"{folder}: not a folder (is the share mounted?)"
    else:
        problem = copy_problem(folder, picks) if picks else None
        if problem is not None:
            problem = f"{folder} does not hold this dataset: {problem}"
    if problem is not None and not force:
        raise InspectorError(f"{problem}; nothing saved (--force maps it anyway)")
    settings = save_mapping(project_key(project), dataset.root, folder)
    return RootSet(dataset, folder, len(picks), problem, settings)


def unset_root(project: Project, root: str | int) -> tuple[str, bool]:
    """Forget this workstation's folder for `root` (a dataset's id or stored root, or the stored root
    of a mapping no dataset uses any more). (stored root, whether there was a mapping)."""
    from core.errors import NotFound
    from core.store.datasets import find_dataset
    from core.store.root_map import load_projects, project_key, remove_mapping

    key = project_key(project)
    try:
        with project.session() as s:
            stored = find_dataset(s, root).root
    except NotFound:
        if str(root) not in load_projects().get(key, {}):
            raise
        stored = str(root)
    return stored, remove_mapping(key, stored)
