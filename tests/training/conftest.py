"""Fixtures for the training tests: tiny generated datasets, job configs, and (test_slurm_*) a real
single-node SLURM cluster."""
from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

CLASSES = ["good", "scratch"]


def make_dataset(root: Path, *, n: int = 32, channels: int = 1, seed: int = 0) -> Path:
    """Returns the manifest path; every 4th image of each class goes to val."""
    rng = np.random.default_rng(seed)
    images = root / "images"
    images.mkdir(parents=True, exist_ok=True)
    rows = []
    for i in range(n):
        label = CLASSES[i % 2]
        a = rng.integers(90, 130, (48, 48), dtype=np.uint8)
        if label == "scratch":
            r = int(rng.integers(5, 40))
            a[r : r + 3, 5:43] = 250
        im = Image.fromarray(a) if channels == 1 else Image.fromarray(np.stack([a, a // 2, a], axis=-1))
        path = images / f"{i:03d}.png"
        im.save(path)
        rows.append({"path": str(path), "content_hash": f"h{i}", "label": label, "split": "val" if (i // 2) % 4 == 3 else "train"})
    manifest = root / "manifest.csv"
    with open(manifest, "w", newline="") as f:
        w = csv.DictWriter(f, ["path", "content_hash", "label", "split"])
        w.writeheader()
        w.writerows(rows)
    return manifest


def write_job(path: Path, manifest: Path, out_dir: Path, **overrides) -> Path:
    cfg = {
        "manifest": str(manifest), "class_names": CLASSES, "base": "aan_s", "input_size": 64, "in_chans": 1,
        "out_dir": str(out_dir), "epochs": 2, "batch_size": 4, "num_workers": 0, "max_steps_per_epoch": 3,
        "log_every": 1, "device": "cpu", "warmup_epochs": 0.5,
    }
    cfg.update(overrides)
    path.write_text(json.dumps(cfg))
    return path


@pytest.fixture
def dataset():
    """make_dataset(root, n=32, channels=1) -> manifest path."""
    return make_dataset


@pytest.fixture
def job_config():
    """write_job(path, manifest, out_dir, **overrides) -> config path."""
    return write_job
