"""Finding image files under a folder, in a stable order, and saying what was left out and why.

`TreeWalk` lists each folder once (os.scandir: the kind of every entry comes with the listing, so a
regular file costs no extra system call) and keeps, per left-out entry, a `SkippedFile` with the
reason: FIFOs, sockets, devices, symlinks that leave the root or lead nowhere, symlinked folders,
names that are not UTF-8, folders that cannot be opened or disappear while the scan runs (see
core.data.file_checks). Hidden entries (.git, .DS_Store) and files that are not images by their
extension are left out silently: they are not data.
"""
from __future__ import annotations

import os
from pathlib import Path

from core.data.decode import is_image_name
from core.data.file_checks import entry_problem, link_problem, name_problem, printable
from core.data.scan_records import SkippedFile
from core.errors import ScanError

# Folders that tools and operating systems drop into datasets; never data.
_SKIP_DIRS = frozenset({"__MACOSX", "__pycache__"})


class TreeWalk:
    """Listings of one dataset tree under `root` (rel paths and the symlink rule are relative to it).

    A folder that cannot be listed is recorded in `skipped`, except `top` (the folder being
    scanned), which raises ScanError: there would be nothing to import."""

    def __init__(self, root: Path, top: Path | None = None):
        self.root = Path(root)
        self.top = Path(top) if top is not None else self.root
        self.real_root = os.path.realpath(self.root)
        self._skipped: dict[str, SkippedFile] = {}
        self._listings: dict[Path, tuple[list[Path], list[Path]]] = {}

    @property
    def skipped(self) -> list[SkippedFile]:
        return sorted(self._skipped.values(), key=lambda s: s.rel_path)

    def dirs(self, folder: Path) -> list[Path]:
        """Sub-folders, sorted, without hidden ones or OS debris; symlinked folders are not followed."""
        return list(self._list(Path(folder))[0])

    def files(self, folder: Path, *, recursive: bool = True) -> list[Path]:
        """Image files (by extension) under `folder` that may be read, sorted."""
        found: list[Path] = []
        stack = [Path(folder)]
        while stack:
            subdirs, files = self._list(stack.pop())
            found.extend(files)
            if recursive:
                stack.extend(subdirs)
        return sorted(found)

    def skip(self, path: Path, reason: str, *, folder: bool = False) -> None:
        rel = printable(Path(path).relative_to(self.root).as_posix()) + ("/" if folder else "")
        self._skipped.setdefault(rel, SkippedFile(rel, reason))

    def _list(self, folder: Path) -> tuple[list[Path], list[Path]]:
        cached = self._listings.get(folder)
        if cached is not None:
            return cached
        try:
            with os.scandir(folder) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError as e:
            if folder == self.top:
                raise ScanError(f"{folder}: {_folder_problem(e)}") from None
            self.skip(folder, _folder_problem(e), folder=True)
            entries = []
        dirs: list[Path] = []
        files: list[Path] = []
        for e in entries:
            name = e.name
            if name.startswith("."):
                continue
            try:
                is_dir = e.is_dir(follow_symlinks=False)
            except OSError:
                is_dir = False
            if is_dir:
                if name in _SKIP_DIRS:
                    continue
                problem = name_problem(name)
                if problem:
                    self.skip(Path(e.path), f"folder skipped: {problem}", folder=True)
                else:
                    dirs.append(Path(e.path))
            elif is_image_name(name):
                problem = name_problem(name) or entry_problem(e, self.real_root)
                if problem:
                    self.skip(Path(e.path), problem)
                else:
                    files.append(Path(e.path))
            elif e.is_symlink() and os.path.isdir(e.path):
                self.skip(Path(e.path), link_problem(e.path, self.real_root) or "symbolic link to a folder: not followed",
                          folder=True)
        self._listings[folder] = (dirs, files)
        return dirs, files


def _folder_problem(e: OSError) -> str:
    if isinstance(e, PermissionError):
        return "cannot open the folder (permission denied): nothing in it was imported"
    if isinstance(e, FileNotFoundError):
        return "folder disappeared during the scan"
    if isinstance(e, NotADirectoryError):
        return "was a folder, replaced by a file during the scan"
    return f"cannot list the folder ({e.strerror or e}): nothing in it was imported"


def visible_dirs(folder: Path) -> list[Path]:
    return TreeWalk(folder).dirs(folder)


def image_files(folder: Path, *, recursive: bool = True) -> list[Path]:
    return TreeWalk(folder).files(folder, recursive=recursive)


def rel_posix(path: Path, root: Path) -> str:
    return path.relative_to(root).as_posix()
