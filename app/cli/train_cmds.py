"""`inspector finetune`, `inspector jobs`, `inspector job cancel|resume|logs`.

Job commands say what state the job is in after the action: a cancel waits (up to --wait seconds)
until the job has stopped and saved, and says how to continue it; `job resume` submits a failed or
cancelled job's folder again, continuing from its resume state.
"""
from __future__ import annotations

import argparse
import json
import shlex
import sys
from typing import TYPE_CHECKING

from app.cli.project_option import add_db_option, open_db
from training.defaults import PEAK_LR, default_epochs

if TYPE_CHECKING:
    from core.store.project import Project
    from core.store.records import JobRecord


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "finetune", help="fine-tune (or train from scratch) on a frozen snapshot of the project's labels",
        description="Takes a snapshot of the current labels, writes a job folder next to the project file and "
                    "submits torchrun locally or an sbatch script to SLURM. Prints the exact command or script. "
                    "Backend profiles: $XDG_CONFIG_HOME/inspector/backends.toml (built-ins: local-cpu, local-gpu, "
                    "local-8gpu, slurm-cpu, slurm-gpu).")
    add_db_option(p)
    p.add_argument("--base", required=True, metavar="CKPT|ARCH",
                   help="checkpoint to fine-tune, or an architecture name (aan_s): its shipped pretrained "
                        "starting point (assets/aan_s_start.safetensors), or random weights with --from-scratch")
    p.add_argument("--from-scratch", action="store_true", help="with an architecture name: random initial weights")
    p.add_argument("--backend", choices=("local", "slurm"), help="default: the profile's (local-cpu if no profile)")
    p.add_argument("--profile", metavar="NAME", help="backend profile (default: local-cpu, or slurm-gpu with --backend slurm)")
    p.add_argument("--profiles-file", metavar="TOML", help="profiles file instead of the user config one")
    p.add_argument("--gpus", type=int, metavar="N", help="GPUs per node; 0 trains on CPU (gloo)")
    p.add_argument("--nproc", type=int, metavar="N", help="processes per node (default: one per GPU)")
    p.add_argument("--nodes", type=int, metavar="N", help="SLURM nodes, one torchrun each (default: the profile's, 1)")
    p.add_argument("--partition", metavar="P", help="SLURM partition")
    p.add_argument("--epochs", type=int, metavar="E",
                   help=f"default: {default_epochs(False)} from a start or a checkpoint, {default_epochs(True)} "
                        "from scratch (random weights learn slower)")
    p.add_argument("--batch-size", type=int, metavar="B", help="per process (default 64 on GPU, 32 on CPU)")
    p.add_argument("--lr", type=float, help=f"peak learning rate at a global batch of 32 (square-root scaled; default {PEAK_LR:g})")
    p.add_argument("--input-size", type=int, metavar="PX", help="default: the base checkpoint's, or 224")
    p.add_argument("--in-chans", type=int, choices=(1, 3), help="from scratch: 1 (grayscale) or 3 (RGB, default)")
    p.add_argument("--class-balanced", action=argparse.BooleanOptionalAction, default=None,
                   help="sample every class equally often (default: when the largest class has twice the smallest)")
    p.add_argument("--freeze-stem", action="store_true", help="keep the convolutional stem fixed")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--max-steps-per-epoch", type=int, metavar="N", help="cap epochs (smoke tests)")
    p.add_argument("--wait", action="store_true", help="follow the job until it ends; non-zero exit if it failed")
    p.add_argument("--poll", type=float, default=2.0, metavar="S", help="seconds between checks with --wait")
    p.set_defaults(func=finetune)

    p = sub.add_parser("jobs", help="fine-tuning jobs of a project (refreshes unfinished ones)")
    add_db_option(p)
    p.add_argument("--json", action="store_true", help="print a JSON list")
    p.set_defaults(func=jobs)

    p = sub.add_parser("job", help="act on one job: cancel, resume, logs")
    jsub = p.add_subparsers(dest="job_command", metavar="ACTION", required=True)
    c = jsub.add_parser("cancel", help="stop a job (SIGTERM: it saves its resume state first)",
                        description="Stop a job; it saves its resume state first. Waits until the backend reports "
                                    "it stopped (at most --wait seconds) and prints the state it is in then.")
    c.add_argument("id", type=int, metavar="ID")
    add_db_option(c)
    c.add_argument("--wait", type=float, default=60.0, metavar="S",
                   help="seconds to wait for the job to stop (default 60; 0 returns at once)")
    c.set_defaults(func=job_cancel)
    c = jsub.add_parser("resume", help="continue a cancelled or failed job from its resume state",
                        description="Submit the job's folder again with the same snapshot, configuration and "
                                    "backend profile; training continues from the resume state it saved.")
    c.add_argument("id", type=int, metavar="ID")
    add_db_option(c)
    c.add_argument("--wait", action="store_true", help="follow the job until it ends; non-zero exit if it failed")
    c.add_argument("--poll", type=float, default=2.0, metavar="S", help="seconds between checks with --wait")
    c.set_defaults(func=job_resume)
    c = jsub.add_parser("logs", help="the end of a job's log")
    c.add_argument("id", type=int, metavar="ID")
    add_db_option(c)
    c.add_argument("--tail", type=int, default=50, metavar="N")
    c.set_defaults(func=job_logs)


def finetune(args: argparse.Namespace) -> int:
    from usecases.finetune_jobs import choose_profile, submit_finetune

    profile = choose_profile(args.profile, backend=args.backend, gpus=args.gpus, nproc=args.nproc,
                             partition=args.partition, nodes=args.nodes, profiles_file=args.profiles_file)
    with open_db(args) as project:
        job = submit_finetune(project, base=args.base, profile=profile, epochs=args.epochs, batch_size=args.batch_size,
                              lr=args.lr, input_size=args.input_size, in_chans=args.in_chans, class_balanced=args.class_balanced,
                              freeze_stem=args.freeze_stem, seed=args.seed, max_steps_per_epoch=args.max_steps_per_epoch,
                              from_scratch=args.from_scratch)
        print(f"job {job.id}: submitted to {job.backend} (profile {profile.name}, id {job.external_id}), "
              f"snapshot {job.snapshot_id}")
        print(f"folder: {job.workdir}")
        print(job.command)
        sys.stdout.flush()
        if not args.wait:
            return 0
        return _follow(project, job.id, args.poll)


def _follow(project: Project, job_id: int, poll: float) -> int:
    from core.store.model_versions import get_model_version
    from usecases.job_monitor import follow_job, job_progress

    last = None
    for job in follow_job(project, job_id, poll):
        line = f"job {job_id}: {job.state}  {job_progress(job).line()}"
        if line != last:
            print(line, flush=True)
            last = line
    if job.state == "succeeded":
        with project.session() as s:
            version = get_model_version(s, job.result_model_id)
        print(f"job {job_id}: model {version.id} ({version.name}) registered: {version.path}")
        return 0
    print(f"inspector: job {job_id} {job.state}: {job.error or ''}".rstrip(), file=sys.stderr)
    tail = (job.log_tail or "").splitlines()[-15:]
    if tail:
        print("\n".join(tail), file=sys.stderr)
    return 1


def jobs(args: argparse.Namespace) -> int:
    from usecases.finetune_jobs import resume_point
    from usecases.job_monitor import job_progress, refresh_jobs

    with open_db(args) as project:
        fresh = []
        for job, problem in refresh_jobs(project):
            if problem is not None:
                print(f"inspector: job {job.id}: {problem}", file=sys.stderr)
            fresh.append(job)
    if args.json:
        out = []
        for job in fresh:
            progress = job_progress(job)
            out.append({
                "id": job.id, "state": job.state, "backend": job.backend, "profile": job.profile,
                "external_id": job.external_id, "snapshot_id": job.snapshot_id, "base_model_id": job.base_model_id,
                "result_model_id": job.result_model_id, "created": job.created.isoformat(),
                "updated": job.updated.isoformat(), "workdir": job.workdir, "error": job.error,
                "epochs_done": progress.epoch or 0, "epochs": progress.epochs, "train_acc": progress.train_acc,
                "val_acc": progress.val_acc,
                "val_balanced_acc": progress.val_balanced_acc, "command": job.command,
                "detail": job.detail, "resumable_from": resume_point(job),
            })
        print(json.dumps(out, indent=2))
        return 0
    if not fresh:
        print("no jobs")
        return 0
    print(f"{'id':>4}  {'state':<10} {'backend':<7} {'profile':<12} {'created':<19}  progress")
    for job in fresh:
        detail = job_progress(job).line()
        if job.result_model_id is not None:
            detail += f"  -> model {job.result_model_id}"
        if job.error and job.state != "succeeded":
            detail += f"  ({job.error})"
        elif job.detail and not job.finished:
            detail += f"  ({job.detail})"
        point = resume_point(job)
        if point:
            detail += f"  resume: inspector job resume {job.id} --db {shlex.quote(args.db)}"
        print(f"{job.id:>4}  {job.state:<10} {job.backend:<7} {job.profile or '':<12} "
              f"{job.created.strftime('%Y-%m-%d %H:%M:%S'):<19}  {detail}")
    return 0


def job_cancel(args: argparse.Namespace) -> int:
    from usecases.finetune_jobs import cancel_job

    with open_db(args) as project:
        job = cancel_job(project, args.id, wait_s=max(args.wait, 0.0))
    print(state_line(job, args.db))
    return 0


def job_resume(args: argparse.Namespace) -> int:
    from usecases.finetune_jobs import resume_job

    with open_db(args) as project:
        job = resume_job(project, args.id)
        print(f"job {job.id}: {job.state}, {job.detail} (submitted to {job.backend}, id {job.external_id})")
        sys.stdout.flush()
        if not args.wait:
            return 0
        return _follow(project, job.id, args.poll)


def state_line(job: JobRecord, db: str) -> str:
    """The job's state in one line, with the next step where there is one."""
    from usecases.finetune_jobs import resume_point

    if not job.finished:
        return (f"job {job.id}: cancel sent; still stopping" + (f" ({job.detail})" if job.detail else "") +
                f"; `inspector jobs --db {shlex.quote(db)}` shows when it has stopped")
    point = resume_point(job)
    if point:
        return (f"job {job.id}: {job.state}; resume state saved at {point}: "
                f"`inspector job resume {job.id} --db {shlex.quote(db)}` continues")
    return f"job {job.id}: {job.state}" + (f" ({job.error})" if job.error else "")


def job_logs(args: argparse.Namespace) -> int:
    from usecases.finetune_jobs import job_log_tail

    with open_db(args) as project:
        tail = job_log_tail(project, args.id, args.tail)
    if tail is not None:
        print(tail)
    return 0
