"""Worker functions for the jobs panel; training.jobs does the work, these hand back plain records."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True, slots=True)
class FinetuneRequest:
    base: str  # checkpoint path, or an architecture name to train from scratch
    profile: str
    epochs: int
    gpus: int | None = None
    nproc: int | None = None
    partition: str | None = None


@dataclass(slots=True)
class JobView:
    job: object  # core.store.records.JobRecord
    progress_line: str = ""
    steps: list[tuple[int, float]] = field(default_factory=list)  # (global step, loss)
    epochs: list[tuple[int, float | None, float | None]] = field(default_factory=list)  # (epoch, train loss, val acc)
    resumable_from: str | None = None  # where `Resume` would continue; None when it cannot


def profile_for(req: FinetuneRequest):
    from training.profiles import get_profile

    return get_profile(req.profile).with_overrides(gpus=req.gpus, nproc=req.nproc, partition=req.partition or None)


def render_preview(project, req: FinetuneRequest) -> str:
    """What will run: the backend's rendering for a job folder named like the next one.

    Cheap and torch-free: runs on the GUI thread while the dialog is edited.
    """
    from training.backends import JobSpec, make_backend
    from training.jobs import CONFIG_FILE, jobs_root

    profile = profile_for(req)
    job_dir = jobs_root(project) / "<next>"
    spec = JobSpec(name=f"inspector-{Path(project.path).stem}-job<next>", job_dir=job_dir,
                   config_path=job_dir / CONFIG_FILE)
    return make_backend(profile).render(spec)


def submit(_ctx, project, req: FinetuneRequest):
    from training.jobs import submit_finetune

    return submit_finetune(project, base=req.base, profile=profile_for(req), epochs=req.epochs)


def list_job_views(_ctx, project, detail_id: int | None) -> list[JobView]:
    """Refresh every unfinished job with its backend, and read the metrics of the one shown in detail."""
    from core.store.jobs import list_jobs
    from training.jobs import job_progress, refresh_job, resume_point

    with project.session() as s:
        jobs = list_jobs(s)
    out = []
    for job in jobs:
        if not job.finished:
            try:
                job = refresh_job(project, job.id)
            except Exception as e:  # noqa: BLE001 - one unreachable scheduler must not hide the other jobs
                job = _with_error(job, str(e))
        view = JobView(job, job_progress(job).line() if job.workdir else "", resumable_from=resume_point(job))
        if job.id == detail_id:
            _read_curves(view)
        out.append(view)
    return out


def cancel(_ctx, project, job_id: int):
    from training.jobs import cancel_job

    return cancel_job(project, job_id)


def resume(_ctx, project, job_id: int):
    from training.jobs import resume_job

    return resume_job(project, job_id)


def _read_curves(view: JobView) -> None:
    from training.backends.base import OUT_DIR
    from training.metrics_log import METRICS_FILE, read_metrics

    for r in read_metrics(Path(view.job.workdir) / OUT_DIR / METRICS_FILE):
        if r.get("kind") == "step" and r.get("loss") is not None:
            view.steps.append((int(r.get("global_step", len(view.steps))), float(r["loss"])))
        elif r.get("kind") == "epoch":
            view.epochs.append((int(r.get("epoch", len(view.epochs))), r.get("train_loss"), r.get("val_acc")))


def _with_error(job, message: str):
    from dataclasses import replace

    return replace(job, error=message)
