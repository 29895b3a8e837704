"""Fine-tuning jobs of a project: choose a backend profile, snapshot the labels, write the job
folder, submit, refresh, cancel, and register the result as a new model version.

A job folder lives next to the project file, `<project>.jobs/<job id>/`:
  manifest.csv   the frozen label snapshot (path, content_hash, label, split)
  job.json       the FinetuneConfig the training reads
  command.txt    the exact torchrun command (local) / job.sbatch: the batch script (slurm)
  train.log      stdout and stderr of the job
  out/           metrics.jsonl, resume.pt, best/last.safetensors, result.json (training.finetune)

The store records the job (backend, the profile as used, rendered command, external id, state,
log tail); everything else is in the folder, so a job can be followed from any process
(usecases.job_monitor reads its progress).
"""
from __future__ import annotations

import csv
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.atomic import atomic_path
from training.backends import FINAL_STATES, SUCCEEDED, BackendError, JobSpec, make_backend
from training.backends.base import LOG_FILE, OUT_DIR, RESULT_FILE, tail_file
from training.config import FinetuneConfig
from training.profiles import DEFAULT_FOR_BACKEND, Profile, ProfileError, get_profile

if TYPE_CHECKING:
    from core.model.checkpoint import CheckpointMeta
    from core.store.project import Project
    from core.store.records import JobRecord, SnapshotRow

MANIFEST_FILE = "manifest.csv"
CONFIG_FILE = "job.json"
LOG_TAIL_LINES = 60


def jobs_root(project: Project) -> Path:
    return Path(project.path).with_suffix(".jobs")


def choose_profile(name: str | None = None, *, backend: str | None = None, gpus: int | None = None,
                   nproc: int | None = None, partition: str | None = None,
                   profiles_file: str | os.PathLike | None = None) -> Profile:
    """A backend profile by name (default: the backend's default one) with the user's overrides."""
    profile = get_profile(name or DEFAULT_FOR_BACKEND[backend or "local"], profiles_file)
    if backend and profile.backend != backend:
        raise ProfileError(f"profile {profile.name} is a {profile.backend} profile, not {backend}")
    if nproc is None and gpus:
        nproc = gpus  # more GPUs asked for: one process each, not the profile's old count
    return profile.with_overrides(gpus=gpus, nproc=nproc, partition=partition or None)


def render_preview(project: Project, profile: Profile) -> str:
    """What will run: the backend's rendering for a job folder named like the next one.

    Cheap and torch-free: the GUI calls it on its own thread while the dialog is edited.
    """
    job_dir = jobs_root(project) / "<next>"
    spec = JobSpec(name=f"inspector-{Path(project.path).stem}-job<next>", job_dir=job_dir,
                   config_path=job_dir / CONFIG_FILE)
    return make_backend(profile).render(spec)


def submit_finetune(project: Project, *, base: str, profile: Profile, epochs: int = 10, batch_size: int | None = None,
                    lr: float | None = None, input_size: int | None = None, in_chans: int | None = None,
                    class_balanced: bool = False, freeze_stem: bool = False, seed: int = 0, val_fraction: float = 0.2,
                    num_workers: int | None = None, max_steps_per_epoch: int | None = None,
                    **extra: Any) -> JobRecord:
    """Snapshot the labels, write the job folder and submit. Returns the JobRecord (its `command`
    is the rendered command or batch script). A refused submission leaves the job 'failed' with
    the scheduler's message, and raises BackendError with it."""
    from core.store.jobs import create_job, update_job
    from core.store.snapshots import take_snapshot

    base_meta, base_path = _base_checkpoint(base)
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
        cfg = FinetuneConfig(
            manifest=str(job_dir / MANIFEST_FILE), class_names=class_names,
            base=str(base_path) if base_path else base,
            input_size=input_size or (base_meta.input_size if base_meta else 224),
            in_chans=in_chans or (base_meta.in_chans if base_meta else 3),
            out_dir=str(job_dir / OUT_DIR), epochs=epochs, batch_size=batch_size or (64 if profile.gpus else 16),
            class_balanced=class_balanced, freeze_stem=freeze_stem, seed=seed, device=profile.device,
            num_workers=num_workers if num_workers is not None else (8 if profile.gpus else 1),
            max_steps_per_epoch=max_steps_per_epoch, job_id=str(job.id), snapshot_id=snap.id,
            parent=str(base_model_id) if base_model_id is not None else None,
            **({"lr": lr} if lr is not None else {}), **extra,
        )
        cfg.save(job_dir / CONFIG_FILE)
        spec = JobSpec(name=f"inspector-{Path(project.path).stem}-job{job.id}", job_dir=job_dir,
                       config_path=job_dir / CONFIG_FILE)
        backend = make_backend(profile)
        rendered = backend.render(spec)
        if profile.backend == "local":
            (job_dir / "command.txt").write_text(rendered + "\n")
        config = {"finetune": cfg.to_dict(), "profile": {"name": profile.name, **profile.to_dict()}}
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
    changes: dict[str, Any] = {"state": status.state, "log_tail": log_tail}
    if status.final and status.state != SUCCEEDED:
        changes["error"] = status.detail or status.state
    with project.session() as s:
        current = get_job(s, job_id)
        if current.state in FINAL_STATES:  # another process finished it meanwhile
            return current
        return update_job(s, job_id, **changes)


def cancel_job(project: Project, job_id: int) -> JobRecord:
    from core.errors import NotFound
    from core.store.jobs import get_job

    with project.session() as s:
        job = get_job(s, job_id)
    if job.state in FINAL_STATES:
        raise BackendError(f"job {job_id} already {job.state}")
    if not job.external_id:
        raise NotFound(f"job {job_id} has no backend id yet (still being submitted)")
    make_backend(_profile_of(job)).cancel(job.external_id, Path(job.workdir))
    return refresh_job(project, job_id)


def job_log_tail(project: Project, job_id: int, lines: int = 50) -> str | None:
    """The end of a job's log; None while the job has no folder yet."""
    from core.store.jobs import get_job

    with project.session() as s:
        job = get_job(s, job_id)
    return tail_file(Path(job.workdir) / LOG_FILE, lines) if job.workdir else None


def _register_result(project: Project, job: JobRecord, log_tail: str) -> JobRecord:
    import json

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
