"""SLURM backend: one node, `srun torchrun --nproc_per_node=G ...` in an sbatch script.

The script is text that other programs parse, so nothing reaches it unchecked: #SBATCH values are
read by sbatch itself (split at whitespace, no shell), so they are validated or reduced to a safe
alphabet; everything in the shell body goes through shlex.quote. Commands run as argument lists,
and the scheduler's own error message (sbatch's stderr) is what the user sees when it refuses.

State: squeue while the job is pending or running, then `scontrol show job -o` (for MinJobAge
seconds after the end), then sacct when accounting is on, then the job folder's exit_code file
(written by the script), so a job finished long ago is still known.
"""
from __future__ import annotations

import re
import shlex
import subprocess
from pathlib import Path

from training.backends.base import (
    CANCELLED,
    EXIT_CODE_FILE,
    FAILED,
    LOG_FILE,
    OUT_DIR,
    QUEUED,
    RUNNING,
    SUCCEEDED,
    Backend,
    BackendError,
    JobSpec,
    JobStatus,
    read_exit_code,
    read_training_state,
    torchrun_argv,
)
from training.profiles import Profile

SCRIPT_FILE = "job.sbatch"
TERM_BEFORE_END_S = 120  # SIGTERM this long before the time limit: time to finish a step and save

_STATE_MAP = {
    "PENDING": QUEUED, "REQUEUED": QUEUED, "REQUEUE_HOLD": QUEUED, "REQUEUE_FED": QUEUED, "SUSPENDED": QUEUED,
    "RESV_DEL_HOLD": QUEUED, "CONFIGURING": RUNNING, "RUNNING": RUNNING, "COMPLETING": RUNNING,
    "STAGE_OUT": RUNNING, "SIGNALING": RUNNING, "RESIZING": RUNNING, "COMPLETED": SUCCEEDED,
    "CANCELLED": CANCELLED, "FAILED": FAILED, "TIMEOUT": FAILED, "NODE_FAIL": FAILED, "OUT_OF_MEMORY": FAILED,
    "BOOT_FAIL": FAILED, "DEADLINE": FAILED, "PREEMPTED": FAILED, "REVOKED": FAILED, "SPECIAL_EXIT": FAILED,
}
_UNSAFE_IN_DIRECTIVE = re.compile(r"[\s\"'\\%]|[\x00-\x1f\x7f]")


def safe_job_name(name: str) -> str:
    """SLURM job names are labels: keep letters, digits and . _ -, replace everything else."""
    cleaned = re.sub(r"[^A-Za-z0-9._-]", "_", name)[:64].strip("_") or "inspector-job"
    return cleaned


def directive_path(path: Path) -> str:
    text = str(path)
    if _UNSAFE_IN_DIRECTIVE.search(text):
        raise BackendError(f"job folder {text!r} contains whitespace, quotes, backslashes or '%': "
                           "sbatch cannot take it in an #SBATCH line; move the project to a plainer path")
    return text


class SlurmBackend(Backend):
    name = "slurm"

    def __init__(self, profile: Profile):
        self.profile = profile

    def render(self, spec: JobSpec) -> str:
        p = self.profile
        job_dir = Path(spec.job_dir).resolve()
        lines = ["#!/bin/bash", f"#SBATCH --job-name={safe_job_name(spec.name)}"]
        if p.partition:
            lines.append(f"#SBATCH --partition={p.partition}")  # validated by Profile
        if p.account:
            lines.append(f"#SBATCH --account={p.account}")
        lines += ["#SBATCH --nodes=1", "#SBATCH --ntasks-per-node=1"]
        if p.gpus > 0:
            lines.append(f"#SBATCH --gpus-per-node={int(p.gpus)}")
        if p.cpus_per_task:
            lines.append(f"#SBATCH --cpus-per-task={int(p.cpus_per_task)}")
        if p.mem:
            lines.append(f"#SBATCH --mem={p.mem}")
        if p.time:
            lines.append(f"#SBATCH --time={p.time}")
        lines += [
            f"#SBATCH --output={directive_path(job_dir / LOG_FILE)}",
            "#SBATCH --open-mode=append",
            f"#SBATCH --signal=TERM@{TERM_BEFORE_END_S}",
            "",
            "# Written by Inspector. SIGTERM (scancel, time limit) makes training save its resume state;",
            "# submitting the same job folder again continues from there.",
            "set -u",
            f"cd {shlex.quote(str(job_dir))} || exit 1",
            "export PYTHONUNBUFFERED=1",
        ]
        torchrun = torchrun_argv(python=p.python, nproc=p.processes, config_path=Path(spec.config_path).resolve())
        if p.srun:
            torchrun = ["srun", "--ntasks=1", "--kill-on-bad-exit=1", *torchrun]
        lines += [
            " ".join(shlex.quote(a) for a in torchrun),
            "rc=$?",
            f"printf '%s\\n' \"$rc\" > {shlex.quote('.' + EXIT_CODE_FILE + '.tmp')} && "
            f"mv -f {shlex.quote('.' + EXIT_CODE_FILE + '.tmp')} {shlex.quote(EXIT_CODE_FILE)}",
            'exit "$rc"',
            "",
        ]
        return "\n".join(lines)

    def submit(self, spec: JobSpec) -> str:
        job_dir = Path(spec.job_dir)
        job_dir.mkdir(parents=True, exist_ok=True)
        script = job_dir / SCRIPT_FILE
        script.write_text(self.render(spec))
        out = _run(["sbatch", "--parsable", str(script)], cwd=job_dir)
        job_id = out.strip().split(";")[0]
        if not job_id.isdigit():
            raise BackendError(f"sbatch answered {out.strip()!r}, expected a job id")
        return job_id

    def status(self, external_id: str, job_dir: Path) -> JobStatus:
        job_id = _check_id(external_id)
        state, reason = _squeue(job_id)
        if state is None:
            state, reason = _scontrol(job_id)
        if state is None:
            state, reason = _sacct(job_id)
        if state is not None:
            mapped = _STATE_MAP.get(state, FAILED if state else QUEUED)
            detail = state.lower() + (f" ({reason})" if reason and reason not in ("None", "(null)") else "")
            if mapped in (FAILED, CANCELLED) and read_training_state(_out_dir(job_dir)) == "preempted":
                detail += "; resume state saved (submit the same job again to continue)"
            return JobStatus(mapped, detail)
        # The scheduler has forgotten the job: the folder still knows how it ended.
        rc = read_exit_code(Path(job_dir))
        if rc == 0:
            return JobStatus(SUCCEEDED, "from exit_code file")
        if rc is not None:
            return JobStatus(FAILED, f"exit status {rc}")
        if read_training_state(_out_dir(job_dir)) == "preempted":
            return JobStatus(CANCELLED, "stopped; resume state saved")
        return JobStatus(FAILED, f"job {job_id} is unknown to the scheduler and left no exit status")

    def cancel(self, external_id: str, job_dir: Path) -> None:
        _run(["scancel", _check_id(external_id)])


def _out_dir(job_dir: Path) -> Path:
    return Path(job_dir) / OUT_DIR


def _check_id(external_id: str) -> str:
    if not str(external_id).isdigit():
        raise BackendError(f"not a SLURM job id: {external_id!r}")
    return str(external_id)


def _run(argv: list[str], *, cwd: Path | None = None) -> str:
    proc = _call(argv, cwd=cwd)
    if proc.returncode != 0:
        raise BackendError(_message(proc, argv))
    return proc.stdout


def _call(argv: list[str], *, cwd: Path | None = None) -> subprocess.CompletedProcess:
    try:
        return subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=60)
    except FileNotFoundError:
        raise BackendError(f"{argv[0]} not found: is this a SLURM login node (slurm-client installed)?") from None
    except subprocess.TimeoutExpired:
        raise BackendError(f"{argv[0]} did not answer within 60 s (slurmctld down?)") from None


def _message(proc: subprocess.CompletedProcess, argv: list[str]) -> str:
    return " ".join((proc.stderr or proc.stdout).split()) or f"{argv[0]} failed with status {proc.returncode}"


def _query(argv: list[str]) -> str | None:
    """stdout; None when the scheduler says it does not know the job (any other failure, such as
    slurmctld being unreachable, raises: a job must not be declared failed during an outage)."""
    proc = _call(argv)
    if proc.returncode == 0:
        return proc.stdout
    if "Invalid job id" in (proc.stderr + proc.stdout):
        return None
    raise BackendError(_message(proc, argv))


def _squeue(job_id: str) -> tuple[str | None, str]:
    out = (_query(["squeue", "-h", "-j", job_id, "-o", "%T|%r"]) or "").strip()
    if not out:
        return None, ""
    state, _, reason = out.splitlines()[0].partition("|")
    return state.strip(), reason.strip()


def _scontrol(job_id: str) -> tuple[str | None, str]:
    out = _query(["scontrol", "show", "job", "-o", job_id]) or ""
    fields = dict(kv.split("=", 1) for kv in out.split() if "=" in kv)
    if "JobState" not in fields:
        return None, ""
    return fields["JobState"], fields.get("Reason", "")


def _sacct(job_id: str) -> tuple[str | None, str]:
    """Optional: without slurmdbd sacct fails ("accounting storage is disabled"); then None."""
    try:
        proc = _call(["sacct", "-n", "-X", "-P", "-j", job_id, "-o", "State,ExitCode"])
    except BackendError:
        return None, ""
    out = proc.stdout.strip() if proc.returncode == 0 else ""
    if not out:
        return None, ""
    state, _, exit_code = out.splitlines()[0].partition("|")
    return state.split()[0] if state else None, f"exit {exit_code}" if exit_code else ""
