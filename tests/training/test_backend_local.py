"""Local backend with real processes: detached torchrun, state recovered from the job folder, cancel."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from training.backends import CANCELLED, RUNNING, SUCCEEDED, JobSpec, make_backend
from training.backends.base import read_exit_code
from training.backends.local import LocalBackend
from training.metrics_log import read_metrics
from training.profiles import Profile

pytestmark = pytest.mark.slow


def make_job(tmp_path: Path, dataset, job_config, **overrides) -> JobSpec:
    job_dir = tmp_path / "job"
    job_dir.mkdir()
    manifest = dataset(tmp_path / "data", n=16)
    spec = JobSpec(name="t", job_dir=job_dir, config_path=job_dir / "job.json")
    job_config(spec.config_path, manifest, spec.out_dir, **overrides)
    return spec


def test_job_survives_its_submitter_and_is_found_again(tmp_path, dataset, job_config, waiter):
    spec = make_job(tmp_path, dataset, job_config, epochs=1, max_steps_per_epoch=2)
    # Submit from another Python process that exits at once: the app closing right after submission.
    code = ("import sys; from pathlib import Path; from training.backends import JobSpec, make_backend;"
            "from training.profiles import Profile;"
            "b = make_backend(Profile(name='t', backend='local', gpus=0, nproc=2));"
            "d = Path(sys.argv[1]); print(b.submit(JobSpec(name='t', job_dir=d, config_path=d / 'job.json')))")
    out = subprocess.run([sys.executable, "-c", code, str(spec.job_dir)], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    pid = out.stdout.strip()
    backend = make_backend(Profile(name="t", backend="local", gpus=0, nproc=2))  # a fresh "app"
    assert backend.status(pid, spec.job_dir).state in (RUNNING, SUCCEEDED)
    final = waiter(lambda: (s := backend.status(pid, spec.job_dir)).final and s, timeout=120, message="job end")
    assert final.state == SUCCEEDED, backend.logs(pid, spec.job_dir, tail=40)
    assert read_exit_code(spec.job_dir) == 0
    assert json.loads((spec.out_dir / "result.json").read_text())["status"] == "succeeded"
    assert "torch.distributed.run" in (spec.job_dir / "train.log").read_text() or backend.logs(pid, spec.job_dir)
    assert backend.render(spec).startswith(sys.executable) and "--nproc_per_node=2" in backend.render(spec)


def test_cancel_stops_the_group_with_resume_state(tmp_path, dataset, job_config, waiter):
    # num_workers=1: the group SIGTERM also hits DataLoader workers, which must not die mid-batch.
    spec = make_job(tmp_path, dataset, job_config, epochs=500, max_steps_per_epoch=2, num_workers=1)
    backend = LocalBackend(Profile(name="t", backend="local", gpus=0, nproc=2, grace_s=60))
    pid = backend.submit(spec)
    waiter(lambda: any(r["kind"] == "step" for r in read_metrics(spec.out_dir / "metrics.jsonl")), timeout=90,
           message="the first training step")
    assert backend.status(pid, spec.job_dir).state == RUNNING
    backend.cancel(pid, spec.job_dir)
    status = backend.status(pid, spec.job_dir)
    assert status.state == CANCELLED and "resume state saved" in status.detail, backend.logs(pid, spec.job_dir)
    assert read_exit_code(spec.job_dir) == 75
    assert (spec.out_dir / "resume.pt").exists()
    with pytest.raises(ProcessLookupError):
        os.killpg(int(pid), 0)  # nothing of the job is left running
