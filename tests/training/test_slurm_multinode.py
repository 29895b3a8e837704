"""One fine-tuning job on two SLURM nodes (fixture slurm_cluster: n1 and n2, two slurmd on this
machine): one torchrun per node, a c10d rendezvous at the first node, gloo on CPU.

Every test node is this machine, so a job's processes on each node are found in /proc: the tasks
srun starts carry the job's SLURM_JOB_ID and their node's SLURMD_NODENAME, and torchrun's workers
its RANK and WORLD_SIZE."""
from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from training.backends import CANCELLED, SUCCEEDED
from training.profiles import Profile

pytestmark = pytest.mark.slurm
TWO_NODES = Profile(name="two-nodes", backend="slurm", partition="debug", nodes=2, gpus=0, nproc=1, cpus_per_task=1,
                    mem="2G", time="10")
NODES = ["n1", "n2"]  # scripts/slurm/start_cluster.sh's names


def job_processes(job_id: str) -> dict[tuple[str, str], dict]:
    """(node, "torchrun" | "worker") -> pid, RANK and WORLD_SIZE of the job's processes still running."""
    found = {}
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:  # a zombie's environ reads empty: it is gone
            env = dict(kv.split("=", 1) for kv in (proc / "environ").read_bytes().decode(errors="replace").split("\0")
                       if "=" in kv)
            cmd = (proc / "cmdline").read_bytes().decode(errors="replace").split("\0")
        except OSError:
            continue
        if env.get("SLURM_JOB_ID") != job_id:
            continue
        role = "torchrun" if "torch.distributed.run" in cmd else "worker" if "training.finetune" in cmd else None
        if role:
            found[(env.get("SLURMD_NODENAME", "?"), role)] = {"pid": int(proc.name), "rank": env.get("RANK"),
                                                              "world": env.get("WORLD_SIZE")}
    return found


def alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rindex(")") + 2] not in "ZX"


def job_fields(job_id: str) -> dict[str, str]:
    out = subprocess.run(["scontrol", "show", "job", "-o", job_id], capture_output=True, text=True, check=True).stdout
    return dict(kv.split("=", 1) for kv in out.split() if "=" in kv)


def hostnames(node_list: str) -> list[str]:
    return subprocess.run(["scontrol", "show", "hostnames", node_list], capture_output=True, text=True,
                          check=True).stdout.split()


def assert_one_rank_per_node(seen: dict[tuple[str, str], dict]) -> None:
    assert sorted(seen) == [(n, role) for n in NODES for role in ("torchrun", "worker")], sorted(seen)
    workers = [seen[(n, "worker")] for n in NODES]
    assert sorted(w["rank"] for w in workers) == ["0", "1"] and {w["world"] for w in workers} == {"2"}, workers


def submit(project, profile: Profile = TWO_NODES, **schedule):
    from usecases.finetune_jobs import submit_finetune

    return submit_finetune(project, base="aan_s", profile=profile, batch_size=4, input_size=64, in_chans=1,
                           num_workers=0, **schedule)


def test_two_node_job_trains_on_both_and_registers_its_model(slurm_cluster, tmp_path, project_factory, waiter):
    from core.store.model_versions import get_model_version
    from training.metrics_log import read_metrics
    from usecases.finetune_jobs import refresh_job

    project = project_factory(tmp_path, n_per_class=4)
    job = submit(project, epochs=1, max_steps_per_epoch=1)
    seen: dict[tuple[str, str], dict] = {}

    def ended():
        seen.update(job_processes(job.external_id))
        return (j := refresh_job(project, job.id)).finished and j

    done = waiter(ended, timeout=180, interval=0.1, message="the two-node job to end")
    assert done.state == SUCCEEDED, f"{done.error}\n{done.log_tail}"
    assert_one_rank_per_node(seen)
    fields = job_fields(job.external_id)
    assert hostnames(fields["NodeList"]) == NODES and fields["NumNodes"] == "2", fields
    log = (Path(job.workdir) / "train.log").read_text()
    port = 29500 + int(job.external_id) % 1000
    assert f"inspector: 2 nodes (n[1-2]), rendezvous at 127.0.0.1:{port}" in log, log
    start = next(r for r in read_metrics(Path(job.workdir) / "out" / "metrics.jsonl") if r["kind"] == "start")
    assert start["world_size"] == 2
    with project.session() as s:
        model = get_model_version(s, done.result_model_id)
        base = get_model_version(s, job.base_model_id)
    assert model.snapshot_id == job.snapshot_id and model.parent_id == base.id and model.arch == "aan_s"
    assert Path(model.path).exists()


def test_cancelling_a_two_node_job_stops_every_node(slurm_cluster, tmp_path, project_factory, waiter):
    from training.backends.base import read_training_state
    from training.metrics_log import read_metrics
    from usecases.finetune_jobs import cancel_job, refresh_job

    project = project_factory(tmp_path, n_per_class=4)
    job = submit(project, epochs=1000, max_steps_per_epoch=2)
    out = Path(job.workdir) / "out"
    waiter(lambda: any(r["kind"] == "step" for r in read_metrics(out / "metrics.jsonl")), timeout=120,
           message="the first training step on two nodes")
    running = job_processes(job.external_id)
    assert_one_rank_per_node(running)

    cancelled = cancel_job(project, job.id, wait_s=90)
    assert cancelled.state == CANCELLED, cancelled
    assert job_fields(job.external_id)["JobState"] == "CANCELLED"
    # Both process trees, torchrun and its worker on each node, are gone (not merely SLURM's record of them).
    waiter(lambda: not job_processes(job.external_id), timeout=30, message="the job's processes to end")
    assert not [p for p in running.values() if alive(p["pid"])], running
    assert refresh_job(project, job.id).state == CANCELLED
    # SIGTERM reached rank 0 like any rank: the run stopped together and saved its resume state.
    assert read_training_state(out) == "preempted" and (out / "resume.pt").exists()


def test_more_nodes_than_the_partition_has_is_refused_in_words(slurm_cluster, tmp_path, project_factory):
    from training.backends import BackendError

    sinfo = subprocess.run(["sinfo", "-h", "-p", "debug", "-o", "%D|%c|%m"], capture_output=True, text=True,
                           check=True).stdout.strip().split("|")
    project = project_factory(tmp_path, n_per_class=4)
    with pytest.raises(BackendError) as info:
        submit(project, epochs=1, max_steps_per_epoch=1, profile=TWO_NODES.with_overrides(nodes=3))
    assert str(info.value) == (
        "SLURM refused the job: there are fewer nodes or CPUs in partition 'debug' than the job asks for "
        f"(3 nodes, no GPU, 1 CPUs, 2G memory); the nodes in partition 'debug' have: {sinfo[0]} nodes with "
        f"{sinfo[1]} CPUs, {sinfo[2]} MB memory, no GPUs; ask for fewer CPUs or less memory (the profile's "
        "cpus_per_task, mem) or fewer nodes (the profile's nodes) "
        "(SLURM: Batch job submission failed: More processors requested than permitted)")
