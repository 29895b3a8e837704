"""Fixtures for the training tests: tiny generated datasets, job configs, and (test_slurm_*) a real
single-node SLURM cluster."""
from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import time
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


# --- a real single-node SLURM cluster (scripts/slurm/start_cluster.sh) --------------------------

SLURM_BINARIES = ("munged", "slurmctld", "slurmd", "sbatch", "squeue", "scontrol", "scancel", "sinfo")
SCRIPTS = Path(__file__).resolve().parents[2] / "scripts" / "slurm"


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _unavailable(reason: str):
    """Skip with the reason; under CI (env CI set) a missing cluster is a failure, not a skip."""
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (CI is set, so SLURM tests must run)", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def slurm_cluster(tmp_path_factory):
    """Starts munged + slurmctld + slurmd for the session; yields the cluster folder, with SLURM_CONF
    set in os.environ so that sbatch/squeue/scancel (and the backend) talk to this cluster."""
    missing = [b for b in SLURM_BINARIES if shutil.which(b) is None]
    if missing:
        _unavailable(f"SLURM binaries not found: {', '.join(missing)} "
                     "(apt-get install --no-install-recommends slurmctld slurmd slurm-client munge)")
    if os.geteuid() != 0:
        _unavailable("the SLURM test cluster needs root (slurmd starts jobs as their owner)")
    folder = tmp_path_factory.mktemp("slurm")
    env = dict(os.environ, SLURMCTLD_PORT=str(_free_port()), SLURMD_PORT=str(_free_port()))
    start = subprocess.run(["bash", str(SCRIPTS / "start_cluster.sh"), str(folder)], env=env,
                           capture_output=True, text=True, timeout=60)
    if start.returncode != 0:
        subprocess.run(["bash", str(SCRIPTS / "stop_cluster.sh"), str(folder)], capture_output=True, timeout=60)
        logs = "".join(p.read_text()[-2000:] for p in sorted((folder / "log").glob("*.log")))
        pytest.fail(f"could not start the SLURM test cluster: {start.stderr.strip()}\n{logs}", pytrace=False)
    old = os.environ.get("SLURM_CONF")
    os.environ["SLURM_CONF"] = str(folder / "slurm.conf")
    try:
        yield folder
    finally:
        subprocess.run(["bash", str(SCRIPTS / "stop_cluster.sh"), str(folder)], capture_output=True, timeout=120)
        if old is None:
            os.environ.pop("SLURM_CONF", None)
        else:
            os.environ["SLURM_CONF"] = old


def wait_for(predicate, *, timeout: float, interval: float = 0.2, message: str = "condition"):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {message}")
        time.sleep(interval)


@pytest.fixture
def waiter():
    """wait_for(predicate, timeout=..., message=...) -> the predicate's truthy value."""
    return wait_for


# --- a project with imported images (the store, for usecases.finetune_jobs and the CLI) -----------------


def make_project(tmp_path: Path, *, n_per_class: int = 8):
    """An ImageFolder tree of tiny grayscale PNGs imported into tmp_path/project.db; returns the open Project."""
    from core.data.scan import scan_dataset
    from core.store import open_project
    from core.store.ingest import import_scan

    rng = np.random.default_rng(1)
    root = tmp_path / "images"
    for c, label in enumerate(CLASSES):
        (root / label).mkdir(parents=True, exist_ok=True)
        for i in range(n_per_class):
            a = rng.integers(90, 130, (48, 48), dtype=np.uint8)
            if label == "scratch":
                a[10 + i : 13 + i, 5:43] = 250
            Image.fromarray(a).save(root / label / f"{label}_{i:02d}.png")
    project = open_project(tmp_path / "project.db")
    with project.session() as s:
        import_scan(s, scan_dataset(root, "imagefolder"), user="tester")
    return project


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
    """write(path, arch="aan_s", classes=CLASSES) -> a grayscale 64 px Inspector checkpoint."""
    def write(path: Path, arch: str = "aan_s", classes: list[str] | None = None) -> Path:
        from core.model import create_model
        from core.model.checkpoint import CheckpointMeta, save_checkpoint

        classes = classes or CLASSES
        model = create_model("aan_s", len(classes), in_chans=1)
        meta = CheckpointMeta(arch=arch, class_names=classes, in_chans=1, input_size=64, mean=(0.5,), std=(0.25,))
        return save_checkpoint(path, model, meta)

    return write
