"""`inspector finetune / jobs / job cancel` as a user runs them (separate processes)."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

pytestmark = pytest.mark.slow


def inspector(*args: str, timeout: float = 180) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "app", *args], capture_output=True, text=True, timeout=timeout)


def test_finetune_wait_jobs_and_cancel(tmp_path, project_factory, base_checkpoint, waiter):
    project = project_factory(tmp_path, n_per_class=6)
    db = str(project.path)
    base = base_checkpoint(tmp_path / "base.safetensors")

    # A long job, cancelled from another process.
    out = inspector("finetune", "--db", db, "--base", str(base), "--gpus", "0", "--nproc", "1", "--epochs", "500",
                    "--batch-size", "4", "--max-steps-per-epoch", "2")
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("job 1: submitted to local") and "torch.distributed.run" in out.stdout

    def state():
        listed = inspector("jobs", "--db", db, "--json")
        assert listed.returncode == 0, listed.stderr
        job = json.loads(listed.stdout)[0]
        return job if job["state"] == "running" else None

    waiter(state, timeout=90, interval=1, message="job 1 running")
    out = inspector("job", "cancel", "1", "--db", db)
    assert out.returncode == 0 and out.stdout.startswith("job 1: cancelled"), out.stdout + out.stderr
    out = inspector("job", "cancel", "1", "--db", db)
    assert out.returncode == 2 and "already cancelled" in out.stderr

    # A job that fails at run time (the base names an unknown architecture): --wait exits non-zero.
    broken = base_checkpoint(tmp_path / "broken.safetensors", arch="aan_nope")
    out = inspector("finetune", "--db", db, "--base", str(broken), "--gpus", "0", "--nproc", "1", "--epochs", "1",
                    "--wait", "--poll", "0.5")
    assert out.returncode == 1 and "job 2 failed" in out.stderr, out.stdout + out.stderr

    out = inspector("jobs", "--db", db)
    assert out.returncode == 0
    lines = out.stdout.splitlines()
    assert lines[1].split()[:2] == ["2", "failed"] and lines[2].split()[:2] == ["1", "cancelled"]


def test_finetune_rejects_bad_requests_in_one_line(tmp_path, project_factory):
    project = project_factory(tmp_path, n_per_class=3)
    db = str(project.path)
    out = inspector("finetune", "--db", db, "--base", "no_such_arch")
    assert out.returncode == 2 and "neither an architecture" in out.stderr and "Traceback" not in out.stderr
    out = inspector("finetune", "--db", db, "--base", "aan_s", "--profile", "nope")
    assert out.returncode == 2 and "no backend profile 'nope'" in out.stderr
    out = inspector("finetune", "--db", db, "--base", "aan_s", "--backend", "slurm", "--partition", "a;b")
    assert out.returncode == 2 and "partition" in out.stderr
