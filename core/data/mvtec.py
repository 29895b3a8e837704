"""MVTec-AD layout, one category or a folder of categories.

    <category>/train/good/<image>                       (real MVTec: only good images in train)
    <category>/train/<defect>/<image>                   (Inspector's demo data: defects in train too)
    <category>/test/<good|defect>/<image>
    <category>/ground_truth/<defect>/<stem>_mask.png    (masks of defect images, any split)

Label = the folder name ("good" or the defect). A mask is linked to an image in a folder of the
same class name whose stem matches; stems must therefore be unique across the splits of a class
when both train and test hold defects (the demo data names files uniquely for that reason).
"""
from __future__ import annotations

import os
from pathlib import Path

from core.data.scan_records import Candidate, normalise_split
from core.data.walk import TreeWalk, rel_posix, visible_dirs


def is_category(folder: Path) -> bool:
    # os.path.isdir, not Path.is_dir: a folder we may not enter is "not a category", not a PermissionError.
    isdir = os.path.isdir
    return isdir(folder / "train" / "good") or (
        isdir(folder / "train") and isdir(folder / "test") and isdir(folder / "ground_truth"))


def category_dirs(folder: Path) -> list[Path]:
    """The category folders at or directly below `folder` (empty when it is not MVTec-like)."""
    if is_category(folder):
        return [folder]
    return [d for d in visible_dirs(folder) if is_category(d)]


def read_mvtec(folder: Path, root: Path, walk: TreeWalk | None = None) -> list[Candidate]:
    """Candidates under `folder`; what had to be left out is in `walk.skipped`."""
    walk = walk or TreeWalk(root, folder)
    out: list[Candidate] = []
    for cat in category_dirs(folder):
        masks = _mask_index(cat / "ground_truth", root, walk)
        for split_dir in walk.dirs(cat):
            split = normalise_split(split_dir.name)
            if split is None:
                continue  # ground_truth, license files' folders, anything else
            for class_dir in walk.dirs(split_dir):
                label = class_dir.name
                class_masks = masks.get(label, {})
                for p in walk.files(class_dir):
                    out.append(Candidate(rel_posix(p, root), label, split,
                                         class_masks.get(p.stem), cat.name))
    return out


def _mask_index(gt: Path, root: Path, walk: TreeWalk) -> dict[str, dict[str, str]]:
    """class -> image stem -> mask rel_path. `<stem>_mask.*` wins over a bare `<stem>.*`."""
    index: dict[str, dict[str, str]] = {}
    if not os.path.isdir(gt) or os.path.islink(gt):
        return index
    for class_dir in walk.dirs(gt):
        by_stem: dict[str, str] = {}
        for p in walk.files(class_dir):
            stem = p.stem
            if stem.endswith("_mask"):
                by_stem[stem[: -len("_mask")]] = rel_posix(p, root)
            else:
                by_stem.setdefault(stem, rel_posix(p, root))
        index[class_dir.name] = by_stem
    return index
