"""Following fine-tuning jobs: progress read from a job's metrics log, every job refreshed with its
backend, one job followed until it ends, and the loss and accuracy curves the jobs panel draws."""
from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

from training.backends.base import OUT_DIR
from training.metrics_log import METRICS_FILE, read_metrics
from usecases.finetune_jobs import planned_epochs, refresh_job, resume_point

if TYPE_CHECKING:
    from core.store.project import Project
    from core.store.records import JobRecord


@dataclass(frozen=True, slots=True)
class JobProgress:
    epoch: int | None  # epochs finished
    epochs: int
    global_step: int | None
    loss: float | None
    train_acc: float | None  # on the augmented training batches of the last epoch: underfitting shows here
    val_acc: float | None
    val_balanced_acc: float | None
    images_per_s: float | None

    def line(self) -> str:
        parts = [f"epoch {self.epoch or 0}/{self.epochs}"]
        if self.global_step is not None:
            parts.append(f"step {self.global_step}")
        if self.loss is not None:
            parts.append(f"loss {self.loss:.4f}")
        if self.images_per_s is not None:
            parts.append(f"{self.images_per_s:.1f} img/s")
        if self.train_acc is not None:
            parts.append(f"train acc {self.train_acc:.3f}")
        if self.val_acc is not None:
            parts.append(f"val acc {self.val_acc:.3f} balanced {self.val_balanced_acc:.3f}")
        return "  ".join(parts)


@dataclass(slots=True)
class JobView:
    """A job as the jobs panel shows it."""
    job: JobRecord
    progress_line: str = ""
    steps: list[tuple[int, float]] = field(default_factory=list)  # (global step, loss)
    # (epoch, train loss, val acc, train acc): both accuracies, so under- and overfitting show while it runs
    epochs: list[tuple[int, float | None, float | None, float | None]] = field(default_factory=list)
    resumable_from: str | None = None  # where `Resume` would continue; None when it cannot


def job_progress(job: JobRecord) -> JobProgress:
    records = read_metrics(Path(job.workdir or ".") / OUT_DIR / METRICS_FILE) if job.workdir else []
    epochs = planned_epochs(job)
    last_step = next((r for r in reversed(records) if r["kind"] == "step"), None)
    last_epoch = next((r for r in reversed(records) if r["kind"] == "epoch"), None)
    return JobProgress(
        epoch=last_epoch["epoch"] + 1 if last_epoch else None, epochs=epochs,
        global_step=last_step["global_step"] if last_step else None, loss=last_step["loss"] if last_step else None,
        train_acc=last_epoch.get("train_acc") if last_epoch else None,
        val_acc=last_epoch.get("val_acc") if last_epoch else None,
        val_balanced_acc=last_epoch.get("val_balanced_acc") if last_epoch else None,
        images_per_s=last_step["images_per_s"] if last_step else None,
    )


def refresh_jobs(project: Project) -> list[tuple[JobRecord, str | None]]:
    """Every job, newest first, the unfinished ones refreshed with their backend: (job, problem).
    A job whose backend could not be asked comes back as last known, with the reason."""
    from core.store.jobs import list_jobs

    with project.session() as s:
        jobs = list_jobs(s)
    out: list[tuple[JobRecord, str | None]] = []
    for job in jobs:
        problem = None
        if not job.finished:
            try:
                job = refresh_job(project, job.id)
            except Exception as e:  # noqa: BLE001 - one unreachable scheduler must not hide the other jobs
                problem = str(e)
        out.append((job, problem))
    return out


def follow_job(project: Project, job_id: int, poll: float = 2.0) -> Iterator[JobRecord]:
    """The job after each refresh, every `poll` seconds, until it has finished (the last one yielded)."""
    while True:
        job = refresh_job(project, job_id)
        yield job
        if job.finished:
            return
        time.sleep(poll)


def job_views(project: Project, detail_id: int | None) -> list[JobView]:
    """Every job for the panel (newest first), with the curves of the one shown in detail."""
    views = []
    for job, problem in refresh_jobs(project):
        if problem is not None:
            job = replace(job, error=problem)
        view = JobView(job, job_progress(job).line() if job.workdir else "", resumable_from=resume_point(job))
        if job.id == detail_id:
            _read_curves(view)
        views.append(view)
    return views


def _read_curves(view: JobView) -> None:
    for r in read_metrics(Path(view.job.workdir) / OUT_DIR / METRICS_FILE):
        if r.get("kind") == "step" and r.get("loss") is not None:
            view.steps.append((int(r.get("global_step", len(view.steps))), float(r["loss"])))
        elif r.get("kind") == "epoch":
            view.epochs.append((int(r.get("epoch", len(view.epochs))), r.get("train_loss"), r.get("val_acc"),
                                r.get("train_acc")))
