"""Resume state: everything needed to continue a run exactly where it stopped.

Written by us, but read back with torch.load(weights_only=True) only: a job folder on shared storage
is not trusted code. So the file holds tensors and plain types (numbers, strings, lists, dicts) and
nothing else. No RNG state is needed: the trainer draws the epoch order and every augmentation from
generators seeded by (seed, epoch, step, rank). Every write goes to a temp file in the same folder
and is renamed over the old one, so a kill at any moment leaves the previous state intact.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from core.atomic import atomic_path

STATE_FILE = "resume.pt"
VERSION = 2


def atomic_torch_save(obj: Any, path: Path) -> None:
    with atomic_path(path, durable=True) as tmp:
        torch.save(obj, tmp)


def safe_load(path: Path) -> dict[str, Any]:
    return torch.load(path, map_location="cpu", weights_only=True)
