"""SLURM backend against a real cluster (fixture slurm_cluster: two nodes on this machine; these jobs
use one), and script rendering. Jobs spanning both nodes: test_slurm_multinode.py."""
from __future__ import annotations

import re
import shlex
import subprocess
from pathlib import Path

import pytest

from training.backends import CANCELLED, QUEUED, RUNNING, SUCCEEDED, BackendError, JobSpec
from training.backends.slurm import SlurmBackend, safe_job_name
from training.profiles import Profile, ProfileError

HOSTILE = "a;$(touch${IFS}PWNED)`touch${IFS}PWNED2`"
CPU = Profile(name="test", backend="slurm", partition="debug", gpus=0, nproc=1, cpus_per_task=1, mem="2G", time="10")


def make_job(tmp_path: Path, dataset, job_config, folder: str = "job", **overrides) -> JobSpec:
    job_dir = tmp_path / folder
    job_dir.mkdir()
    manifest = dataset(tmp_path / "data", n=12)
    spec = JobSpec(name=f"x; rm -rf / $(touch PWNED)\n#SBATCH --gpus=8", job_dir=job_dir, config_path=job_dir / "job.json")
    job_config(spec.config_path, manifest, spec.out_dir, **overrides)
    return spec


def test_render_quotes_and_validates_everything(tmp_path):
    spec = JobSpec(name="x; rm -rf / $(touch y)\n#SBATCH --gpus=8", job_dir=tmp_path / HOSTILE,
                   config_path=tmp_path / HOSTILE / "job.json")
    script = SlurmBackend(CPU.with_overrides(gpus=2, nproc=2)).render(spec)
    directives = [l for l in script.splitlines() if l.startswith("#SBATCH")]
    assert re.fullmatch(r"#SBATCH --job-name=[A-Za-z0-9._-]+", directives[0]), directives[0]
    assert "#SBATCH --gpus-per-node=2" in directives and not any("--gpus=8" in d for d in directives)
    run = next(l for l in script.splitlines() if "training.finetune" in l)
    argv = shlex.split(run)  # what bash will see: the hostile path is one literal argument
    assert argv[:2] == ["srun", "--ntasks=1"] and argv[-1] == str((tmp_path / HOSTILE / "job.json").resolve())
    assert "--nproc_per_node=2" in argv
    assert subprocess.run(["bash", "-n"], input=script, text=True).returncode == 0
    assert "--gpus-per-node" not in SlurmBackend(CPU).render(spec)  # omitted for CPU jobs
    assert safe_job_name("$(reboot)") == "reboot"
    with pytest.raises(BackendError, match="whitespace"):
        SlurmBackend(CPU).render(JobSpec(name="n", job_dir=tmp_path / "a b", config_path=tmp_path / "a b" / "j"))
    for bad in ({"partition": "gpu\n#SBATCH --x"}, {"mem": "1G; reboot"}, {"time": "$(x)"}, {"account": "a b"}):
        with pytest.raises(ProfileError):
            Profile(name="p", backend="slurm", **bad)


def test_render_for_two_nodes_starts_one_torchrun_per_node(tmp_path):
    spec = JobSpec(name="n", job_dir=tmp_path / HOSTILE, config_path=tmp_path / HOSTILE / "job.json")
    script = SlurmBackend(CPU.with_overrides(nodes=2)).render(spec)
    lines = script.splitlines()
    assert "#SBATCH --nodes=2" in lines and "#SBATCH --ntasks-per-node=1" in lines
    runs = [l for l in lines if "srun" in l.split()]
    assert len(runs) == 1, runs  # one srun; its tasks (one per node) each start one torchrun
    argv = shlex.split(runs[0])
    assert argv[:4] == ["srun", "--ntasks=$SLURM_NNODES", "--ntasks-per-node=1", "--kill-on-bad-exit=1"], argv
    torchrun = argv[argv.index("torch.distributed.run") + 1:argv.index("training.finetune") - 1]
    assert dict(zip(torchrun[:-1:2], torchrun[1::2])) == {
        "--nnodes": "$SLURM_NNODES", "--rdzv_backend": "c10d", "--rdzv_endpoint": "$rdzv_endpoint",
        "--rdzv_id": "$SLURM_JOB_ID"} and torchrun[-1] == "--nproc_per_node=1", torchrun
    assert argv[-1] == str((tmp_path / HOSTILE / "job.json").resolve())
    assert subprocess.run(["bash", "-n"], input=script, text=True).returncode == 0

    # The endpoint, with a stand-in scontrol: the first node's NodeAddr, else its name; a port of the job's own.
    fake = tmp_path / "bin" / "scontrol"
    fake.parent.mkdir()
    fake.write_text('#!/bin/sh\ncase "$2" in hostnames) printf "gpu07\\ngpu08\\n" ;;\n'
                    '  node) [ -n "$ADDR" ] && echo "NodeName=$4 Arch=x86_64 NodeAddr=$ADDR NodeHostName=$4 Port=0" ;; esac\n')
    fake.chmod(0o755)
    setup = "\n".join(lines[lines.index(next(l for l in lines if l.startswith("head_node="))):
                             lines.index(next(l for l in lines if l.startswith("rdzv_endpoint="))) + 1])
    for addr, expected in (("10.1.2.7", "10.1.2.7:29821"), ("", "gpu07:29821"), ("fd00::7", "[fd00::7]:29821")):
        env = {"PATH": f"{fake.parent}:/usr/bin:/bin", "SLURM_JOB_ID": "4321", "SLURM_JOB_NODELIST": "gpu[07-08]",
               "ADDR": addr}
        out = subprocess.run(["bash", "-euc", setup + '\necho "$rdzv_endpoint"'], env=env, capture_output=True, text=True)
        assert out.stdout.strip() == expected, out

    for bad in ({"nodes": 0}, {"nodes": "2"}, {"nodes": True}, {"nodes": 2, "srun": False}):
        with pytest.raises(ProfileError, match="nodes"):
            Profile(name="p", backend="slurm", **bad)
    with pytest.raises(ProfileError, match="local backend runs on this machine only"):
        Profile(name="p", backend="local", nodes=2)
    one = SlurmBackend(CPU).render(spec)  # one node: torchrun --standalone, as before multi-node
    assert "#SBATCH --nodes=1" in one.splitlines() and "--standalone" in one and "rdzv" not in one


def test_profile_file_takes_nodes(tmp_path):
    from training.profiles import load_profiles

    path = tmp_path / "backends.toml"
    path.write_text('[profiles.two]\nbackend = "slurm"\nnodes = 2\ngpus = 4\n')
    assert load_profiles(path)["two"].nodes == 2 and load_profiles(path)["two"].processes == 4
    assert load_profiles(path)["slurm-gpu"].nodes == 1
    path.write_text('[profiles.two]\nbackend = "slurm"\nnodes = 0\n')
    with pytest.raises(ProfileError, match="profile two: nodes must be an integer >= 1, got 0"):
        load_profiles(path)


@pytest.mark.slurm
def test_submitted_job_succeeds_and_nothing_hostile_runs(slurm_cluster, tmp_path, dataset, job_config, waiter):
    spec = make_job(tmp_path, dataset, job_config, folder=HOSTILE, epochs=1, max_steps_per_epoch=1)
    backend = SlurmBackend(CPU)
    job_id = backend.submit(spec)
    assert job_id.isdigit()
    seen = {backend.status(job_id, spec.job_dir).state}
    final = waiter(lambda: (s := backend.status(job_id, spec.job_dir), seen.add(s.state))[0].final and s,
                   timeout=120, message="the SLURM job to end")
    assert final.state == SUCCEEDED, final.detail + "\n" + backend.logs(job_id, spec.job_dir, tail=40)
    assert seen <= {QUEUED, RUNNING, SUCCEEDED}
    assert (spec.out_dir / "best.safetensors").exists()
    assert (spec.job_dir / "exit_code").read_text().strip() == "0"
    assert "#SBATCH --job-name=" in (spec.job_dir / "job.sbatch").read_text()
    assert not list(tmp_path.rglob("PWNED*")) and not list(Path.cwd().glob("PWNED*"))


@pytest.mark.slurm
def test_cancel_reaches_cancelled_and_training_saves_first(slurm_cluster, tmp_path, dataset, job_config, waiter):
    from training.backends.base import read_training_state
    from training.metrics_log import read_metrics

    spec = make_job(tmp_path, dataset, job_config, epochs=1000, max_steps_per_epoch=2)
    backend = SlurmBackend(CPU)
    job_id = backend.submit(spec)
    waiter(lambda: any(r["kind"] == "step" for r in read_metrics(spec.out_dir / "metrics.jsonl")), timeout=90,
           message="the first training step under SLURM")
    assert backend.status(job_id, spec.job_dir).state == RUNNING
    backend.cancel(job_id, spec.job_dir)
    final = waiter(lambda: (s := backend.status(job_id, spec.job_dir)).final and s, timeout=60, message="CANCELLED")
    assert final.state == CANCELLED, final
    # scancel sends SIGTERM first (SIGKILL only after KillWait): training stops after a step and saves.
    waiter(lambda: read_training_state(spec.out_dir) == "preempted", timeout=30, message="resume state")
    assert (spec.out_dir / "resume.pt").exists()


@pytest.mark.slurm
def test_gpu_request_on_gpu_less_node_fails_with_scheduler_message(slurm_cluster, tmp_path, dataset, job_config):
    spec = make_job(tmp_path, dataset, job_config)
    with pytest.raises(BackendError, match="Requested node configuration is not available"):
        SlurmBackend(CPU.with_overrides(gpus=8)).submit(spec)


@pytest.mark.slurm
def test_project_job_through_slurm_registers_its_model(slurm_cluster, tmp_path, project_factory, waiter):
    from core.store.model_versions import get_model_version
    from usecases.finetune_jobs import refresh_job, submit_finetune

    project = project_factory(tmp_path, n_per_class=4)
    job = submit_finetune(project, base="aan_s", profile=CPU, epochs=1, batch_size=4, max_steps_per_epoch=1,
                          input_size=64, in_chans=1, num_workers=0)
    assert job.command.startswith("#!/bin/bash") and job.external_id.isdigit()
    done = waiter(lambda: (j := refresh_job(project, job.id)).finished and j, timeout=120, message="job end")
    assert done.state == SUCCEEDED, f"{done.error}\n{done.log_tail}"
    with project.session() as s:
        model = get_model_version(s, done.result_model_id)
        start = get_model_version(s, job.base_model_id)  # `--base aan_s`: the shipped start, registered as its base
    assert model.snapshot_id == job.snapshot_id and model.parent_id == start.id and model.arch == "aan_s"
    assert Path(start.path).name == "aan_s_start.safetensors"
    from core.model.checkpoint import read_metadata

    assert read_metadata(model.path).provenance["start"]["file"] == "aan_s_start.safetensors"
