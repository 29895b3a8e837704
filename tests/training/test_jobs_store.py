"""usecases.finetune_jobs and usecases.job_monitor with the real project store and the local backend."""
from __future__ import annotations

import csv
import json

import pytest

from core.store.jobs import get_job
from core.store.labels import set_label
from core.store.model_versions import get_model_version
from core.store.queries import get_image
from core.store.snapshots import get_snapshot
from usecases.finetune_jobs import jobs_root, refresh_job, submit_finetune
from usecases.job_monitor import job_progress
from training.profiles import Profile

pytestmark = pytest.mark.slow
CPU1 = Profile(name="cpu1", backend="local", gpus=0, nproc=1)


def test_job_trains_on_its_snapshot_and_registers_the_result(tmp_path, project_factory, base_checkpoint, waiter):
    project = project_factory(tmp_path)
    base = base_checkpoint(tmp_path / "base.safetensors")
    job = submit_finetune(project, base=str(base), profile=CPU1, epochs=1, batch_size=4, max_steps_per_epoch=1,
                          num_workers=0)
    assert job.state == "queued" and job.external_id and job.workdir.startswith(str(jobs_root(project)))
    assert "torch.distributed.run" in job.command and "--nproc_per_node=1" in job.command
    # A correction made after submission must not reach this job.
    with project.session() as s:
        img = get_image(s, "good/good_00.png")
        set_label(s, img.id, "scratch", user="tester")
        snap = get_snapshot(s, job.snapshot_id)
    assert next(r.label for r in snap.rows if r.image_id == img.id) == "good"
    with open(f"{job.workdir}/manifest.csv", newline="") as f:
        manifest = {row["path"]: row["label"] for row in csv.DictReader(f)}
    assert manifest[img.abs_path] == "good"
    assert json.loads(open(f"{job.workdir}/job.json").read())["run"]["snapshot_id"] == job.snapshot_id

    done = waiter(lambda: (j := refresh_job(project, job.id)).finished and j, timeout=120, message="job end")
    assert done.state == "succeeded", done.error + "\n" + (done.log_tail or "")
    with project.session() as s:
        model = get_model_version(s, done.result_model_id)
        assert get_model_version(s, done.base_model_id).path == str(base.resolve())
    assert model.parent_id == done.base_model_id and model.snapshot_id == job.snapshot_id
    assert model.meta["provenance"]["job_id"] == str(job.id) and model.meta["provenance"]["snapshot_id"] == job.snapshot_id
    assert job_progress(done).epoch == 1
    assert refresh_job(project, job.id).result_model_id == done.result_model_id  # idempotent


def test_refused_submission_leaves_a_failed_job(tmp_path, project_factory):
    from training.backends import BackendError

    project = project_factory(tmp_path, n_per_class=3)
    bad = Profile(name="bad", backend="local", gpus=0, nproc=1, python=str(tmp_path / "no-such-python"))
    with pytest.raises(BackendError, match="cannot start"):
        submit_finetune(project, base="aan_s", profile=bad, epochs=1, in_chans=1, input_size=64)
    with project.session() as s:
        job = get_job(s, 1)
    assert job.state == "failed" and "cannot start" in job.error


def test_epochs_default_to_more_from_random_weights_than_from_a_start(tmp_path, project_factory):
    """Unless told, a job from the shipped start trains 30 epochs and one from random weights 120
    (from scratch aan_s is still learning at 30: training/README.md). A profile that cannot start
    leaves each job's configuration recorded without training anything."""
    from training.backends import BackendError
    from training.defaults import FROM_SCRATCH_EPOCHS, FROM_START_EPOCHS

    project = project_factory(tmp_path, n_per_class=3)
    bad = Profile(name="bad", backend="local", gpus=0, nproc=1, python=str(tmp_path / "no-such-python"))
    for kwargs in ({}, {"from_scratch": True}, {"from_scratch": True, "epochs": 7}):
        with pytest.raises(BackendError):
            submit_finetune(project, base="aan_s", profile=bad, in_chans=1, input_size=64, **kwargs)
    with project.session() as s:
        trained = [get_job(s, i).config["train"] for i in (1, 2, 3)]
    assert [t["schedule"]["epochs"] for t in trained] == [FROM_START_EPOCHS, FROM_SCRATCH_EPOCHS, 7] == [30, 120, 7]
    assert trained[0]["model"]["base"].endswith("aan_s_start.safetensors") and trained[1]["model"]["base"] == "aan_s"


def test_local_gpu_profile_is_refused_on_a_machine_without_enough_gpus(tmp_path, project_factory):
    import torch

    from training.backends import BackendError

    project = project_factory(tmp_path, n_per_class=3)
    want = torch.cuda.device_count() + 1
    with pytest.raises(BackendError, match=f"asks for {want} GPU"):
        submit_finetune(project, base="aan_s", profile=Profile(name="g", backend="local", gpus=want), epochs=1)
