"""Absolute paths from a dataset root and a stored POSIX relative path.

Plain string work, not pathlib: it runs for every row of every page and pathlib costs ~50 us a call."""
from __future__ import annotations

import os


def join_root(root: str, rel_posix: str) -> str:
    return os.path.join(root, rel_posix if os.sep == "/" else rel_posix.replace("/", os.sep))
