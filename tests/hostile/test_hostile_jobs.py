"""Job commands that say what happened: cancel reports the state after it, resume is a command, and
on a real SLURM cluster a node failure, a job stuck in COMPLETING and a GPU request the node cannot
meet are each shown as what they are."""
from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest
from trees import png_bytes

from training.metrics_log import read_metrics

pytestmark = pytest.mark.slow
CLASSES = ("good", "scratch")
SLURM_CPU = dict(name="hostile", backend="slurm", partition="debug", gpus=0, nproc=1, cpus_per_task=1, mem="2G", time="30")


def _dataset(root: Path) -> Path:
    for i in range(12):
        d = root / CLASSES[i % 2]
        d.mkdir(parents=True, exist_ok=True)
        (d / f"{i:02d}.png").write_bytes(png_bytes(i, size=24))
    return root


def _metrics(job_dir: Path) -> list[dict]:
    return read_metrics(job_dir / "out" / "metrics.jsonl")


def _stepped(job_dir: Path, after_starts: int = 1) -> bool:
    records = _metrics(job_dir)
    starts = [i for i, r in enumerate(records) if r["kind"] == "start"]
    return len(starts) >= after_starts and any(r["kind"] == "step" for r in records[starts[after_starts - 1]:])


@pytest.mark.slow
def test_local_cancel_says_where_it_stopped_and_resume_continues_there(tmp_path, cli, waiter):
    assert cli("import", _dataset(tmp_path / "ds"), "--db", "p.db", cwd=tmp_path).rc == 0
    r = cli("finetune", "--db", "p.db", "--base", "aan_s", "--backend", "local", "--gpus", "0", "--nproc", "1",
            "--epochs", "300", "--max-steps-per-epoch", "2", "--batch-size", "4", "--input-size", "32",
            "--in-chans", "1", cwd=tmp_path)
    assert r.rc == 0 and r.out.startswith("job 1: submitted to local"), r
    job_dir = tmp_path / "p.jobs" / "1"
    waiter(lambda: _stepped(job_dir), timeout=180, message="the first training step")
    r = cli("job", "resume", "1", "--db", "p.db", cwd=tmp_path)
    assert (r.rc, r.err) == (2, "inspector: error: job 1 is running; only a failed or cancelled job can be resumed\n")

    r = cli("job", "cancel", "1", "--db", "p.db", cwd=tmp_path)
    status = json.loads((job_dir / "out" / "status.json").read_text())
    epoch, step = status["epoch"], status["step_in_epoch"]
    assert status["state"] == "preempted"
    assert (r.rc, r.out) == (0, f"job 1: cancelled; resume state saved at epoch {epoch + 1} of 300, step {step}: "
                                "`inspector job resume 1 --db p.db` continues\n"), r
    jobs = cli("jobs", "--db", "p.db", cwd=tmp_path).out.splitlines()
    assert jobs[1].split()[:3] == ["1", "cancelled", "local"] and jobs[1].endswith("resume: inspector job resume 1 --db p.db")
    r = cli("job", "cancel", "1", "--db", "p.db", cwd=tmp_path)
    assert (r.rc, r.err) == (2, "inspector: error: job 1 already cancelled\n")

    r = cli("job", "resume", "1", "--db", "p.db", cwd=tmp_path)
    assert r.rc == 0 and re.fullmatch(rf"job 1: queued, resumed from epoch {epoch + 1} of 300, step {step} "
                                      r"\(submitted to local, id \d+\)\n", r.out), r
    waiter(lambda: _stepped(job_dir, after_starts=2), timeout=180, message="a step after the resume")
    start = [rec for rec in _metrics(job_dir) if rec["kind"] == "start"][-1]
    assert (start["resumed"], start["epoch"], start["step_in_epoch"]) == (True, epoch, step)
    r = cli("job", "cancel", "1", "--db", "p.db", cwd=tmp_path)
    assert r.rc == 0 and r.out.startswith("job 1: cancelled; resume state saved at epoch "), r


@pytest.fixture
def slurm_project(slurm_cluster, tmp_path):
    from core.data.scan import scan_dataset
    from core.store import open_project
    from core.store.ingest import import_scan

    project = open_project(tmp_path / "p.db")
    with project.session() as s:
        import_scan(s, scan_dataset(_dataset(tmp_path / "ds")), user="tester")
    yield project
    project.close()


def _submit(project, **profile):
    from usecases.finetune_jobs import submit_finetune
    from training.profiles import Profile

    return submit_finetune(project, base="aan_s", profile=Profile(**{**SLURM_CPU, **profile}), epochs=1000, batch_size=4,
                           max_steps_per_epoch=2, input_size=32, in_chans=1, num_workers=0)


def _node_of(job_id: str) -> str:
    """The node a running one-node job is on (the test cluster has two)."""
    out = subprocess.run(["squeue", "-h", "-j", job_id, "-o", "%N"], capture_output=True, text=True, check=True).stdout
    return out.strip()


@pytest.mark.slurm
def test_slurm_node_failure_shows_as_a_requeue_not_as_queued(slurm_project, tmp_path, cli, waiter):
    from usecases.finetune_jobs import refresh_job

    job = _submit(slurm_project)
    job_dir = Path(job.workdir)
    waiter(lambda: _stepped(job_dir), timeout=180, message="the first training step under SLURM")
    node = _node_of(job.external_id)
    subprocess.run(["scontrol", "update", f"nodename={node}", "state=down", "reason=hostile-test"], check=True)
    try:
        said = "requeued after a node failure (restart 1); it continues from its last saved state when it runs again; "
        # SLURM's job record says only PENDING and Restarts=1; the cause is slurmstepd's line in the job's
        # log (written a moment later, and never by a node that died) or the job's last node being down.
        seen = []

        def requeue_reported():
            seen.append(j := refresh_job(slurm_project, job.id))
            return j.state == "queued" and "node failure" in (j.detail or "") and j

        try:
            requeued = waiter(requeue_reported, timeout=120, message="the requeue")
        except AssertionError as e:  # say what the job showed instead (a loaded machine requeues slowly)
            raise AssertionError(f"{e}; last seen: {seen[-1].state}: {seen[-1].detail}") from None
        # Right after the requeue SLURM gives no reason yet; then the requeue delay (BeginTime).
        shown = (said + "waiting in the queue (SLURM: PENDING)",
                 said + "waiting until its earliest start time (SLURM: PENDING, BeginTime)")
        assert requeued.detail in shown, requeued
        # Without slurmstepd's line, as from a node that died before it could write it: the same words.
        log = job_dir / "train.log"
        log.write_text("".join(l for l in log.read_text().splitlines(True) if "DUE TO NODE FAILURE" not in l))
        assert refresh_job(slurm_project, job.id).detail in shown
        row = cli("jobs", "--db", "p.db", cwd=tmp_path).out.splitlines()[1]
        assert row.split()[:2] == [str(job.id), "queued"] and "(requeued after a node failure (restart 1)" in row
    finally:
        subprocess.run(["scontrol", "update", f"nodename={node}", "state=resume"], capture_output=True)
    r = cli("job", "cancel", str(job.id), "--db", "p.db", cwd=tmp_path)
    assert r.rc == 0 and r.out.startswith(f"job {job.id}: cancelled"), r


@pytest.mark.slurm
def test_slurm_cancel_then_resume_then_completing_after_the_exit_code(slurm_project, slurm_cluster, tmp_path, cli, waiter):
    from usecases.finetune_jobs import refresh_job

    job = _submit(slurm_project)
    job_dir = Path(job.workdir)
    waiter(lambda: _stepped(job_dir), timeout=180, message="the first training step under SLURM")
    # Without waiting: SLURM says COMPLETING while the training saves; that is what the user reads.
    r = cli("job", "cancel", str(job.id), "--db", "p.db", "--wait", "0", cwd=tmp_path)
    stopping = (f"job {job.id}: cancel sent; still stopping (stopping after cancel: the training saves its resume "
                f"state first (SLURM: COMPLETING)); `inspector jobs --db p.db` shows when it has stopped\n")
    assert r.rc == 0 and (r.out == stopping or r.out.startswith(f"job {job.id}: cancelled; resume state saved")), r
    waiter(lambda: refresh_job(slurm_project, job.id).state == "cancelled", timeout=60, message="CANCELLED")
    status = json.loads((job_dir / "out" / "status.json").read_text())
    row = cli("jobs", "--db", "p.db", cwd=tmp_path).out.splitlines()[1]
    assert row.split()[:2] == [str(job.id), "cancelled"] and row.endswith(f"resume: inspector job resume {job.id} --db p.db")
    # Resumed with few epochs left to run, so that it ends; the node then holds it in COMPLETING.
    cfg = json.loads((job_dir / "job.json").read_text())
    cfg["schedule"]["epochs"] = status["epoch"] + 1
    (job_dir / "job.json").write_text(json.dumps(cfg))
    (slurm_cluster / "hold-completing").touch()
    try:
        r = cli("job", "resume", str(job.id), "--db", "p.db", cwd=tmp_path)
        assert r.rc == 0 and r.out.startswith(f"job {job.id}: queued, resumed from epoch"), r
        waiter(lambda: (job_dir / "exit_code").exists(), timeout=180, message="the resumed run to end")
        done = refresh_job(slurm_project, job.id)
        squeue = subprocess.run(["squeue", "-h", "-j", done.external_id, "-o", "%T"], capture_output=True, text=True).stdout
        assert squeue.strip() == "COMPLETING"  # what SLURM says; the job is done all the same
        assert done.state == "succeeded" and done.result_model_id is not None, done
    finally:
        (slurm_cluster / "hold-completing").unlink(missing_ok=True)


@pytest.mark.slurm
def test_slurm_refusing_a_gpu_request_is_explained(slurm_project, tmp_path, cli):
    from core.store.jobs import get_job
    from training.backends import BackendError

    sinfo = subprocess.run(["sinfo", "-h", "-p", "debug", "-o", "%D|%c|%m"], capture_output=True, text=True,
                           check=True).stdout.split("|")
    nodes = f"{sinfo[0]} node{'s' if sinfo[0] != '1' else ''}"
    expected = (f"SLURM refused the job: no node in partition 'debug' has what the job asks for (8 GPU(s) per node, "
                f"1 CPUs, 2G memory); the nodes in partition 'debug' have: {nodes} with {sinfo[1]} CPUs, "
                f"{sinfo[2].strip()} MB memory, no GPUs; ask for fewer GPUs (--gpus) or a partition with GPUs (--partition) "
                "(SLURM: Batch job submission failed: Requested node configuration is not available)")
    with pytest.raises(BackendError) as info:
        _submit(slurm_project, gpus=8, nproc=8)
    assert str(info.value) == expected
    with slurm_project.session() as s:
        assert get_job(s, 1).state == "failed" and get_job(s, 1).error == expected
    (tmp_path / "profiles.toml").write_text('[profiles.gpu8]\nbackend = "slurm"\npartition = "debug"\ngpus = 8\n'
                                            'cpus_per_task = 1\nmem = "2G"\n')
    r = cli("finetune", "--db", "p.db", "--base", "aan_s", "--profile", "gpu8", "--profiles-file", "profiles.toml",
            cwd=tmp_path)
    assert (r.rc, r.out, r.err) == (2, "", f"inspector: error: {expected}\n"), r
