"""ImageFolder layout: one sub-folder per class, optionally inside split folders.

    root/<class>/**/<image>                  (no splits)
    root/{train,val,valid,validation,test}/<class>/**/<image>

Images directly in the root (or directly in a split folder) are imported unlabeled. Deeper folders
inside a class folder belong to that class (cameras often write one folder per day or per batch).
"""
from __future__ import annotations

from pathlib import Path

from core.data.scan_records import Candidate, normalise_split
from core.data.walk import image_files, rel_posix, visible_dirs


def has_split_folders(folder: Path) -> bool:
    return any(normalise_split(d.name) for d in visible_dirs(folder))


def read_imagefolder(folder: Path, root: Path) -> list[Candidate]:
    if has_split_folders(folder):
        out: list[Candidate] = []
        for d in visible_dirs(folder):
            split = normalise_split(d.name)
            if split is not None:
                out.extend(_classes(d, root, split))
            else:
                # A class folder beside split folders: keep it, without a split.
                out.extend(_class_images(d, root, None))
        out.extend(Candidate(rel_posix(p, root), None) for p in image_files(folder, recursive=False))
        return out
    return _classes(folder, root, None)


def _classes(folder: Path, root: Path, split: str | None) -> list[Candidate]:
    out = [Candidate(rel_posix(p, root), None, split) for p in image_files(folder, recursive=False)]
    for class_dir in visible_dirs(folder):
        out.extend(_class_images(class_dir, root, split))
    return out


def _class_images(class_dir: Path, root: Path, split: str | None) -> list[Candidate]:
    return [Candidate(rel_posix(p, root), class_dir.name, split) for p in image_files(class_dir)]
