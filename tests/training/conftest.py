"""Fixtures for the training tests: tiny generated datasets (support.synthetic_datasets), job configs, and
(test_slurm_*) a real single-node SLURM cluster."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
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
