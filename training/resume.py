"""Resume state: everything needed to continue a run exactly where it stopped.

Written by us, but read back with torch.load(weights_only=True) only: a job folder on shared storage
is not trusted code. So the file holds tensors and plain types (numbers, strings, lists, dicts)
and nothing else; RNG states are stored as tensors. Every write goes to a temp file in the same
folder and is renamed over the old one, so a kill at any moment leaves the previous state intact.

Model, optimiser and scheduler are identical on all ranks and saved once by rank 0; the RNG
streams differ per rank, so every rank writes its own small file, tagged with the position it
belongs to (a stale one is ignored rather than restored).
"""
from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import numpy as np
import torch

from core.atomic import atomic_path

STATE_FILE = "resume.pt"
VERSION = 1


def atomic_torch_save(obj: Any, path: Path) -> None:
    with atomic_path(path, durable=True) as tmp:
        torch.save(obj, tmp)


def safe_load(path: Path) -> dict[str, Any]:
    return torch.load(path, map_location="cpu", weights_only=True)


def rng_state() -> dict[str, Any]:
    np_kind, np_keys, np_pos, np_has_gauss, np_gauss = np.random.get_state()
    py_version, py_state, py_gauss = random.getstate()
    state = {
        "torch": torch.get_rng_state(),
        "numpy_keys": torch.from_numpy(np_keys.astype(np.int64)),
        "numpy_rest": torch.tensor([np_pos, np_has_gauss], dtype=torch.int64),
        "numpy_gauss": torch.tensor([np_gauss], dtype=torch.float64),
        "python": torch.tensor(py_state, dtype=torch.int64),
        "python_version": torch.tensor([py_version], dtype=torch.int64),
        "python_gauss": torch.tensor([float("nan") if py_gauss is None else py_gauss], dtype=torch.float64),
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.stack(torch.cuda.get_rng_state_all())
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    pos, has_gauss = (int(v) for v in state["numpy_rest"])
    keys = state["numpy_keys"].numpy().astype(np.uint32)
    np.random.set_state(("MT19937", keys, pos, has_gauss, float(state["numpy_gauss"][0])))
    gauss = float(state["python_gauss"][0])
    random.setstate((int(state["python_version"][0]), tuple(int(v) for v in state["python"]),
                     None if gauss != gauss else gauss))
    if "cuda" in state and torch.cuda.is_available():
        cuda = state["cuda"]
        if len(cuda) == torch.cuda.device_count():
            torch.cuda.set_rng_state_all(list(cuda))


def rng_path(out_dir: Path, rank: int) -> Path:
    return out_dir / "rng" / f"rank{rank}.pt"


def save_rng(out_dir: Path, rank: int, position: int) -> None:
    atomic_torch_save({"position": position, "state": rng_state()}, rng_path(out_dir, rank))


def restore_rng(out_dir: Path, rank: int, position: int) -> bool:
    path = rng_path(out_dir, rank)
    if not path.exists():
        return False
    saved = safe_load(path)
    if int(saved.get("position", -1)) != position:
        return False
    set_rng_state(saved["state"])
    return True
