"""Fixtures for the training tests: tiny generated datasets (support.synthetic_datasets), job configs,
projects, checkpoints (the SLURM cluster and `waiter` are in tests/conftest.py)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from support.synthetic_datasets import every_nth_as_val, import_folder, tiny_checkpoint, write_manifest, write_parts

CLASSES = ["good", "scratch"]


def make_dataset(root: Path, *, n: int = 32, channels: int = 1, seed: int = 0) -> Path:
    """Returns the manifest path; every 4th image of each class goes to val."""
    images = write_parts(root, CLASSES, n=n, layout="flat", channels=channels, split=every_nth_as_val(4), seed=seed)
    return write_manifest(root / "manifest.csv", images)


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


# --- a project with imported images (the store, for usecases.finetune_jobs and the CLI) -----------------


def make_project(tmp_path: Path, *, n_per_class: int = 8):
    """An ImageFolder tree of tiny grayscale PNGs imported into tmp_path/project.db; returns the open Project."""
    write_parts(tmp_path / "images", CLASSES, n=n_per_class * len(CLASSES), seed=1)
    return import_folder(tmp_path / "project.db", tmp_path / "images", user="tester", format="imagefolder")


@pytest.fixture
def project_factory():
    """make_project(tmp_path, n_per_class=8) -> an open core.store Project with labelled images."""
    opened = []

    def make(tmp_path: Path, **kw):
        p = make_project(tmp_path, **kw)
        opened.append(p)
        return p

    yield make
    for p in opened:
        p.close()


@pytest.fixture
def base_checkpoint():
    """write(path, arch="aan_s", classes=CLASSES) -> a grayscale 64 px Inspector checkpoint (aan_s weights
    whatever `arch` says, so that a wrong name can be tested)."""
    def write(path: Path, arch: str = "aan_s", classes: list[str] | None = None) -> Path:
        return tiny_checkpoint(path, classes or CLASSES, arch=arch, weights_of="aan_s", seed=None)[0]

    return write
