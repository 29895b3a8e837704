"""Fixtures shared by every test folder: private settings and data folders, a real two-node SLURM
cluster on this machine (one per session, used by tests/training and tests/hostile) and a polling helper.

`make test` runs the suite in two pytest-xdist workers (`-n 2 --dist worksteal`). Session fixtures are per worker:
a worker that runs a SLURM test starts a cluster of its own (own folder, munge key and socket, free
ports), as it starts its own PostgreSQL server, and each worker gives torch one thread."""
from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest
from support.services import free_ports, unavailable

if os.environ.get("PYTEST_XDIST_WORKER"):
    # Two workers on two cores: torch's default of one thread per core in each worker (and in the
    # processes its tests start, which inherit this) puts two threads on every core, and an OpenMP
    # pool whose threads wait for each other on busy cores loses far more than it gains. Set before
    # anything imports torch; the same computation on fewer threads.
    os.environ.setdefault("OMP_NUM_THREADS", "1")


@pytest.fixture(scope="session", autouse=True)
def _private_user_folders(tmp_path_factory):
    """Every test reads and writes its own settings (roots.json) and data folder (server projects'
    jobs and thumbnails), never the real user's."""
    saved = {k: os.environ.get(k) for k in ("INSPECTOR_CONFIG_DIR", "INSPECTOR_DATA_DIR")}
    os.environ["INSPECTOR_CONFIG_DIR"] = str(tmp_path_factory.mktemp("config"))
    os.environ["INSPECTOR_DATA_DIR"] = str(tmp_path_factory.mktemp("data"))
    yield
    for k, v in saved.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


# --- a real SLURM cluster, two nodes on this machine (scripts/slurm/start_cluster.sh) --------------------------

SLURM_BINARIES = ("munged", "slurmctld", "slurmd", "sbatch", "squeue", "scontrol", "scancel", "sinfo")
SCRIPTS = Path(__file__).resolve().parents[1] / "scripts" / "slurm"


@pytest.fixture(scope="session")
def slurm_cluster(tmp_path_factory):
    """Starts munged + slurmctld + slurmd for the session; yields the cluster folder, with SLURM_CONF
    set in os.environ so that sbatch/squeue/scancel (and the backend) talk to this cluster."""
    missing = [b for b in SLURM_BINARIES if shutil.which(b) is None]
    if missing:
        unavailable(f"SLURM binaries not found: {', '.join(missing)} "
                    "(apt-get install --no-install-recommends slurmctld slurmd slurm-client munge)", "SLURM")
    if os.geteuid() != 0:
        unavailable("the SLURM test cluster needs root (slurmd starts jobs as their owner)", "SLURM")
    folder = tmp_path_factory.mktemp("slurm")
    # slurmctld's port, then one per node (start_cluster.sh: node nK listens on SLURMD_PORT + K - 1).
    port = free_ports(1 + int(os.environ.get("SLURM_NODES", "2")))
    env = dict(os.environ, SLURMCTLD_PORT=str(port), SLURMD_PORT=str(port + 1))
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


def pytest_collection_modifyitems(config, items):
    """Under pytest-xdist the tests marked slow or slurm (tens of seconds each) go first, in their
    order, the rest after them in theirs: with work stealing (the Makefile's `--dist worksteal`) an
    idle worker takes tests from the other's queue, so the long ones start early on both and short
    ones fill the end, instead of one worker starting a minute-long test while the other has nothing
    left."""
    if os.environ.get("PYTEST_XDIST_WORKER"):
        items.sort(key=lambda item: not (item.get_closest_marker("slow") or item.get_closest_marker("slurm")))


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
