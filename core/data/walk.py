"""Finding image files under a folder, in a stable order."""
from __future__ import annotations

import os
from pathlib import Path

from core.data.decode import is_image_name

# Folders that tools and operating systems drop into datasets; never data.
_SKIP_DIRS = frozenset({"__MACOSX", "__pycache__"})


def visible_dirs(folder: Path) -> list[Path]:
    """Sub-folders, sorted, without hidden ones (.git, .ipynb_checkpoints) or OS debris."""
    try:
        entries = sorted(os.scandir(folder), key=lambda e: e.name)
    except OSError:
        return []
    return [Path(e.path) for e in entries
            if e.is_dir() and not e.name.startswith(".") and e.name not in _SKIP_DIRS]


def image_files(folder: Path, *, recursive: bool = True) -> list[Path]:
    """Image files (by extension) under `folder`, sorted; hidden files and folders skipped.

    Symlinked folders are not followed, so a link loop or a link to elsewhere cannot pull files
    from outside the dataset into a scan.
    """
    found: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(folder, followlinks=False):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith(".") and d not in _SKIP_DIRS)
        if not recursive:
            dirnames.clear()
        found.extend(Path(dirpath) / f for f in filenames
                     if not f.startswith(".") and is_image_name(f))
    return sorted(found)


def rel_posix(path: Path, root: Path) -> str:
    return path.relative_to(root).as_posix()
