"""Real image files written into tmp_path; no mocks."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image


def _write(path: Path, shape=(12, 16), *, seed: int = 0, mode: str | None = None, fmt: str | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    arr = np.random.default_rng(seed).integers(0, 256, size=shape, dtype=np.uint8)
    Image.fromarray(arr).save(path, format=fmt)
    return path


@pytest.fixture
def write_image():
    """write_image(path, shape=(H, W) or (H, W, 3), seed=...) -> path of a random uint8 image."""
    return _write
