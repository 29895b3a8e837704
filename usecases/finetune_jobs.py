"""Fine-tuning jobs of a project: choose a backend profile, snapshot the labels, write the job
folder, submit, refresh, cancel, resume, and register the result as a new model version.

A job folder lives next to the project file, `<project>.jobs/<job id>/`:
  manifest.csv   the frozen label snapshot (path, content_hash, label, split)
  job.json       the TrainConfig the training reads
  command.txt    the exact torchrun command (local) / job.sbatch: the batch script (slurm)
  train.log      stdout and stderr of the job
  out/           metrics.jsonl, resume.pt, best/last.safetensors, result.json (training.finetune)

The store records the job (backend, the profile as used, rendered command, external id, state,
the backend's detail, log tail); everything else is in the folder, so a job can be followed from
any process. A failed or cancelled job that left resume state continues with `resume_job` (the
same folder submitted again; the training picks up out/resume.pt). usecases.job_monitor reads a
job's progress.
"""
from __future__ import annotations

import csv
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.atomic import atomic_path
from training.backends import FINAL_STATES, SUCCEEDED, BackendError, JobSpec, make_backend
from training.backends.base import CANCEL_FILE, EXIT_CODE_FILE, LOG_FILE, OUT_DIR, RESULT_FILE, STATUS_FILE, tail_file
from training.profiles import DEFAULT_FOR_BACKEND, Profile, ProfileError, get_profile

if TYPE_CHECKING:
    from core.model.checkpoint import CheckpointMeta
    from core.store.project import Project
    from core.store.records import JobRecord, SnapshotRow

MANIFEST_FILE = "manifest.csv"
CONFIG_FILE = "job.json"
LOG_TAIL_LINES = 60


def jobs_root(project: Project) -> Path:
    return project.location.sidecar(".jobs")


def choose_profile(name: str | None = None, *, backend: str | None = None, gpus: int | None = None,
                   nproc: int | None = None, partition: str | None = None, nodes: int | None = None,
                   profiles_file: str | os.PathLike | None = None) -> Profile:
    """A backend profile by name (default: the backend's default one) with the user's overrides."""
    profile = get_profile(name or DEFAULT_FOR_BACKEND[backend or "local"], profiles_file)
    if backend and profile.backend != backend:
        raise ProfileError(f"profile {profile.name} is a {profile.backend} profile, not {backend}")
    if nproc is None and gpus:
        nproc = gpus  # more GPUs asked for: one process each, not the profile's old count
    return profile.with_overrides(gpus=gpus, nproc=nproc, partition=partition or None, nodes=nodes)


def render_preview(project: Project, profile: Profile) -> str:
    """What will run: the backend's rendering for a job folder named like the next one.

    Cheap and torch-free: the GUI calls it on its own thread while the dialog is edited.
    """
    job_dir = jobs_root(project) / "<next>"
    spec = JobSpec(name=f"inspector-{project.location.stem}-job<next>", job_dir=job_dir,
                   config_path=job_dir / CONFIG_FILE)
    return make_backend(profile).render(spec)


def submit_finetune(project: Project, *, base: str, profile: Profile, epochs: int | None = None, batch_size: int | None = None,
                    lr: float | None = None, input_size: int | None = None, in_chans: int | None = None,
                    class_balanced: bool | None = None, freeze_stem: bool = False, seed: int = 0,
                    val_fraction: float = 0.2, num_workers: int | None = None, max_steps_per_epoch: int | None = None,
                    pool: str | None = None, from_scratch: bool = False) -> JobRecord:
    """Snapshot the labels, write the job folder and submit. Returns the JobRecord (its `command`
    is the rendered command or batch script). `epochs` None: `training.defaults.default_epochs`, more
    from random weights than from a start. A refused submission leaves the job 'failed' with
    the scheduler's message, and raises BackendError with it."""
    from core.store.jobs import create_job, update_job
    from core.store.snapshots import take_snapshot

    from core.model import model_names
    from training.config import DataConfig, ModelConfig, OptimConfig, RunConfig, ScheduleConfig, TrainConfig
    from training.defaults import default_epochs
    from training.pretrain import resolve_base

    # An architecture name starts from its shipped pretrained starting point unless from_scratch;
    # sizes and channels then default as for the architecture, not as the start was pretrained.
    by_arch = base in model_names()
    base_meta, base_path = _base_checkpoint(resolve_base(base, from_scratch=from_scratch))
    sized_by = None if by_arch else base_meta
    with project.session() as s:
        base_model_id = _register_base(s, base_path, base_meta) if base_meta is not None else None
        snap = take_snapshot(s, seed=seed, val_fraction=val_fraction)
        job = create_job(s, backend=profile.backend, profile=profile.name, snapshot_id=snap.id,
                         base_model_id=base_model_id, state="queued")
    # The job is committed before anything runs: a crash from here on leaves a visible, failed job.
    job_dir = jobs_root(project) / str(job.id)
    try:
        job_dir.mkdir(parents=True, exist_ok=False)
        class_names = list(snap.class_names)
        if base_meta is not None and sorted(base_meta.class_names) == sorted(class_names):
            class_names = list(base_meta.class_names)  # same classes: keep the trained head as it is
        _write_manifest(snap.rows, job_dir / MANIFEST_FILE)
        cfg = TrainConfig(
            data=DataConfig(manifest=str(job_dir / MANIFEST_FILE), class_names=class_names,
                            input_size=input_size or (sized_by.input_size if sized_by else 224),
                            in_chans=in_chans or (sized_by.in_chans if sized_by else 3),
                            class_balanced=class_balanced,
                            num_workers=num_workers if num_workers is not None else (8 if profile.gpus else 1)),
            model=ModelConfig(base=str(base_path) if base_path else base, freeze_stem=freeze_stem,
                              pool=pool if base_path is None else None),
            optim=OptimConfig(**({"lr": lr} if lr is not None else {})),
            schedule=ScheduleConfig(epochs=epochs if epochs is not None else default_epochs(base_path is None),
                                    batch_size=batch_size or (64 if profile.gpus else 32),
                                    max_steps_per_epoch=max_steps_per_epoch),
            run=RunConfig(out_dir=str(job_dir / OUT_DIR), seed=seed, device=profile.device, job_id=str(job.id),
                          snapshot_id=snap.id, parent=str(base_model_id) if base_model_id is not None else None),
        )
        cfg.save(job_dir / CONFIG_FILE)
        spec = _spec(project, job.id, job_dir)
        backend = make_backend(profile)
        rendered = backend.render(spec)
        if profile.backend == "local":
            (job_dir / "command.txt").write_text(rendered + "\n")
        config = {"train": cfg.to_dict(), "profile": {"name": profile.name, **profile.to_dict()}}
        with project.session() as s:
            update_job(s, job.id, command=rendered, workdir=str(job_dir), config=config)
        external_id = backend.submit(spec)
    except BaseException as e:
        message = str(e) if isinstance(e, Exception) else type(e).__name__
        with project.session() as s:
            update_job(s, job.id, state="failed", error=message or type(e).__name__)
        raise
    with project.session() as s:
        return update_job(s, job.id, external_id=external_id)


def refresh_job(project: Project, job_id: int) -> JobRecord:
    """Ask the backend, store state and log tail; on success register the best checkpoint as a new
    model version (parent: the base model; snapshot: the job's). Returns the JobRecord."""
    from core.store.jobs import get_job, update_job

    with project.session() as s:
        job = get_job(s, job_id)
    if job.state in FINAL_STATES and (job.state != SUCCEEDED or job.result_model_id is not None):
        return job
    if not job.external_id or not job.workdir:
        return job  # still being submitted (or the submission failed and said so)
    backend = make_backend(_profile_of(job))
    status = backend.status(job.external_id, Path(job.workdir))
    log_tail = backend.logs(job.external_id, Path(job.workdir), tail=LOG_TAIL_LINES)
    if status.state == SUCCEEDED:
        return _register_result(project, job, log_tail)
    changes: dict[str, Any] = {"state": status.state, "log_tail": log_tail, "detail": status.detail or None}
    if status.final and status.state != SUCCEEDED:
        changes["error"] = status.detail or status.state
    with project.session() as s:
        current = get_job(s, job_id)
        if current.state in FINAL_STATES:  # another process finished it meanwhile
            return current
        return update_job(s, job_id, **changes)


def cancel_job(project: Project, job_id: int, *, wait_s: float = 0.0, poll_s: float = 0.5) -> JobRecord:
    """Stop a job (SIGTERM first: it saves its resume state). Waits up to `wait_s` for the backend
    to report it stopped, and returns the job as it is then: cancelled, or still stopping (its
    `detail` says so)."""
    from core.errors import NotFound
    from core.store.jobs import get_job

    with project.session() as s:
        job = get_job(s, job_id)
    if job.state in FINAL_STATES:
        raise BackendError(f"job {job_id} already {job.state}")
    if not job.external_id:
        raise NotFound(f"job {job_id} has no backend id yet (still being submitted)")
    make_backend(_profile_of(job)).cancel(job.external_id, Path(job.workdir))
    deadline = time.monotonic() + wait_s
    job = refresh_job(project, job_id)
    while not job.finished and time.monotonic() < deadline:
        time.sleep(poll_s)
        job = refresh_job(project, job_id)
    return job


def planned_epochs(job: JobRecord) -> int:
    stored = job.config.get("train") or {}
    # Jobs stored before the config had sections kept it flat under "finetune".
    return int(stored.get("schedule", {}).get("epochs") or job.config.get("finetune", {}).get("epochs", 0))


def resume_point(job: JobRecord) -> str | None:
    """Where a resumed run would continue ("epoch 3 of 10, step 17"), or None when the job left no
    resume state. Only for failed or cancelled jobs."""
    if job.state not in ("failed", "cancelled") or not job.workdir:
        return None
    out = Path(job.workdir) / OUT_DIR
    if not (out / "resume.pt").exists():
        return None
    epochs = planned_epochs(job)
    try:
        status = json.loads((out / STATUS_FILE).read_text())
        epoch, step = int(status.get("epoch", 0)), int(status.get("step_in_epoch", 0))
    except (OSError, ValueError, TypeError, AttributeError):
        return "its last saved state"
    if status.get("state") not in ("preempted", "resuming"):  # resuming: resubmitted, stopped before it began
        return f"the end of its last finished epoch (it stopped in epoch {epoch + 1} of {epochs})"
    return f"epoch {epoch + 1} of {epochs}, step {step}"


def resume_job(project: Project, job_id: int) -> JobRecord:
    """Submit a failed or cancelled job's folder again; training continues from out/resume.pt.
    Same job id, snapshot and configuration; the backend gives it a new external id."""
    from core.errors import InspectorError
    from core.store.jobs import reopen_job, update_job

    job = refresh_job(project, job_id)  # the state now, not the one last stored
    if job.state not in ("failed", "cancelled"):
        raise InspectorError(f"job {job_id} is {job.state}; only a failed or cancelled job can be resumed")
    point = resume_point(job)
    if point is None:
        raise InspectorError(f"job {job_id} left no resume state ({OUT_DIR}/resume.pt): nothing to continue from; "
                             "submit a new job with inspector finetune")
    job_dir = Path(job.workdir)
    backend = make_backend(_profile_of(job))
    for name in (EXIT_CODE_FILE, CANCEL_FILE):  # the last run's outcome, not the next one's
        (job_dir / name).unlink(missing_ok=True)
    _mark_resuming(job_dir / OUT_DIR / STATUS_FILE)
    with project.session(write=True) as s:
        reopen_job(s, job_id, detail=f"resumed from {point}")
    try:
        external_id = backend.submit(_spec(project, job_id, job_dir))
    except BaseException as e:
        message = str(e) if isinstance(e, Exception) else type(e).__name__
        with project.session() as s:
            update_job(s, job_id, state="failed", error=message or type(e).__name__)
        raise
    with project.session() as s:
        return update_job(s, job_id, external_id=external_id)


def _mark_resuming(status_file: Path) -> None:
    """The old run said "preempted"; until the new run writes its own status, it must not read as
    stopped-and-saved (a resubmission that fails at once would otherwise look cancelled)."""
    from core.atomic import write_text_atomic

    try:
        status = json.loads(status_file.read_text())
    except (OSError, ValueError):
        return
    if isinstance(status, dict) and status.get("state") == "preempted":
        write_text_atomic(status_file, json.dumps({**status, "state": "resuming"}) + "\n")


def _spec(project: Project, job_id: int, job_dir: Path) -> JobSpec:
    return JobSpec(name=f"inspector-{project.location.stem}-job{job_id}", job_dir=job_dir,
                   config_path=job_dir / CONFIG_FILE)


def job_log_tail(project: Project, job_id: int, lines: int = 50) -> str | None:
    """The end of a job's log; None while the job has no folder yet."""
    from core.store.jobs import get_job

    with project.session() as s:
        job = get_job(s, job_id)
    return tail_file(Path(job.workdir) / LOG_FILE, lines) if job.workdir else None


def _register_result(project: Project, job: JobRecord, log_tail: str) -> JobRecord:
    from core.model.checkpoint import read_metadata
    from core.store.jobs import get_job, update_job
    from core.store.model_versions import register_model_version

    result_path = Path(job.workdir) / OUT_DIR / RESULT_FILE
    try:
        result = json.loads(result_path.read_text())
        best = Path(result["best_checkpoint"])
        meta = read_metadata(best)
    except (OSError, ValueError, KeyError) as e:
        with project.session() as s:
            return update_job(s, job.id, state="failed", log_tail=log_tail,
                              error=f"the job ended well but left no usable result ({e})")
    with project.session() as s:
        model_id = register_model_version(s, best, meta, parent_id=job.base_model_id, snapshot_id=job.snapshot_id,
                                          name=f"job{job.id}-best")
        current = get_job(s, job.id)
        if current.result_model_id is not None:
            return current
        return update_job(s, job.id, state=SUCCEEDED, result_model_id=model_id, log_tail=log_tail, error=None)


def _profile_of(job: JobRecord) -> Profile:
    """The profile as it was when submitted (stored with the job), not as the config file says today."""
    raw = dict(job.config.get("profile") or {})
    if not raw:
        raise BackendError(f"job {job.id} has no stored backend profile")
    return Profile(**raw)


def _base_checkpoint(base: str) -> tuple[CheckpointMeta | None, Path | None]:
    """(metadata, resolved path) for a checkpoint file; (None, None) for an architecture name."""
    from core.model import model_names
    from core.model.checkpoint import read_metadata

    if base in model_names():
        return None, None
    path = Path(base).expanduser()
    if not path.exists():
        from training.config import ConfigError

        raise ConfigError(f"--base {base!r} is neither an architecture ({', '.join(model_names())}) nor a checkpoint file")
    return read_metadata(path), path.resolve()


def _register_base(session, path: Path, meta: CheckpointMeta) -> int:
    from core.store.model_versions import register_model_version

    return register_model_version(session, path, meta)  # returns the existing id when already known


def _write_manifest(rows: list[SnapshotRow], path: Path) -> None:
    with atomic_path(path) as tmp, open(tmp, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["path", "content_hash", "label", "split"])
        for r in rows:
            w.writerow([r.abs_path, r.content_hash or "", r.label, r.split])


@dataclass(frozen=True, slots=True)
class TimeEstimate:
    images_per_second: float  # training throughput measured on this machine's CPU
    train_images: int  # labelled images the job would train on (the rest validates)
    seconds: float  # for the whole job, at that throughput

    def line(self, epochs: int) -> str:
        minutes = self.seconds / 60
        when = f"{minutes:.0f} min" if minutes >= 1.5 else f"{self.seconds:.0f} s"
        return (f"about {when} here for {epochs} epochs of {self.train_images} images "
                f"(measured {self.images_per_second:.0f} images/s on this CPU)")


def estimate_cpu_time(project: Project, *, base: str, epochs: int, batch_size: int, val_fraction: float = 0.2,
                      probe_steps: int = 3) -> TimeEstimate:
    """Time a few training steps of the base model on the CPU (after one to warm up) and scale to
    the job: what a local CPU job of these settings costs here."""
    import torch

    from core.model import create_model, model_names
    from core.store.queries import ImageFilter, count_images
    from training.pretrain import resolve_base

    with project.session() as s:
        labelled = count_images(s, ImageFilter(readable=True)) - count_images(s, ImageFilter(readable=True, unlabeled=True))
    meta, _path = _base_checkpoint(resolve_base(base, from_scratch=False))
    arch = base if base in model_names() else (meta.arch if meta is not None else "aan_s")
    size = 224 if base in model_names() or meta is None else meta.input_size
    chans = 3 if base in model_names() or meta is None else meta.in_chans
    model = create_model(arch, 5, chans).train()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    x, y = torch.randn(batch_size, chans, size, size), torch.randint(0, 5, (batch_size,))
    seconds = []
    for _ in range(probe_steps + 1):
        t = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        torch.nn.functional.cross_entropy(model(x), y).backward()
        opt.step()
        seconds.append(time.perf_counter() - t)
    rate = batch_size / (sum(seconds[1:]) / probe_steps)
    train = max(int(round(labelled * (1 - val_fraction))), 1)
    return TimeEstimate(rate, train, epochs * train / rate)
