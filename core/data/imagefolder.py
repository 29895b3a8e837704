"""ImageFolder layout: one sub-folder per class, optionally inside split folders.

    root/<class>/**/<image>                  (no splits)
    root/{train,val,valid,validation,test}/<class>/**/<image>

Images directly in the root (or directly in a split folder) are imported unlabeled. Deeper folders
inside a class folder belong to that class (cameras often write one folder per day or per batch).
"""
from __future__ import annotations

from pathlib import Path

from core.data.scan_records import Candidate, normalise_split
from core.data.walk import TreeWalk, rel_posix


def has_split_folders(folder: Path, walk: TreeWalk | None = None) -> bool:
    walk = walk or TreeWalk(folder)
    return any(normalise_split(d.name) for d in walk.dirs(folder))


def read_imagefolder(folder: Path, root: Path, walk: TreeWalk | None = None) -> list[Candidate]:
    """Candidates under `folder`; what had to be left out is in `walk.skipped`."""
    walk = walk or TreeWalk(root, folder)
    if has_split_folders(folder, walk):
        out: list[Candidate] = []
        for d in walk.dirs(folder):
            split = normalise_split(d.name)
            if split is not None:
                out.extend(_classes(d, root, split, walk))
            else:
                # A class folder beside split folders: keep it, without a split.
                out.extend(_class_images(d, root, None, walk))
        out.extend(Candidate(rel_posix(p, root), None) for p in walk.files(folder, recursive=False))
        return out
    return _classes(folder, root, None, walk)


def _classes(folder: Path, root: Path, split: str | None, walk: TreeWalk) -> list[Candidate]:
    out = [Candidate(rel_posix(p, root), None, split) for p in walk.files(folder, recursive=False)]
    for class_dir in walk.dirs(folder):
        out.extend(_class_images(class_dir, root, split, walk))
    return out


def _class_images(class_dir: Path, root: Path, split: str | None, walk: TreeWalk) -> list[Candidate]:
    return [Candidate(rel_posix(p, root), class_dir.name, split) for p in walk.files(class_dir)]
