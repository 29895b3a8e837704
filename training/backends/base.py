"""The one small interface every job backend implements, and what they share.

A backend turns a job folder (job.json + manifest, written by usecases.finetune_jobs) into a running
training and answers questions about it later, possibly from another process after the app was
restarted: everything it needs to find a job again is the external id plus the job folder.
"""
from __future__ import annotations

import abc
import shlex
import sys
from dataclasses import dataclass
from pathlib import Path

from core.errors import InspectorError

QUEUED, RUNNING, SUCCEEDED, FAILED, CANCELLED = "queued", "running", "succeeded", "failed", "cancelled"
STATES = (QUEUED, RUNNING, SUCCEEDED, FAILED, CANCELLED)
FINAL_STATES = (SUCCEEDED, FAILED, CANCELLED)

OUT_DIR = "out"  # the training's out_dir inside a job folder (status.json, checkpoints, metrics)
LOG_FILE = "train.log"  # both backends send the job's stdout and stderr here
EXIT_CODE_FILE = "exit_code"  # written atomically when the launcher (wrapper or batch script) ends
CANCEL_FILE = "cancel_requested"  # touched by cancel(): a job stopping afterwards is stopping because of it
STATUS_FILE = "status.json"  # in OUT_DIR: the training's own state (running, preempted, succeeded)
RESULT_FILE = "result.json"  # in OUT_DIR: written once training finished (best checkpoint, metrics)
PREEMPTED_EXIT = 75  # EX_TEMPFAIL: stopped with resume state saved; torch-free here, for the launchers


class BackendError(InspectorError):
    """Submitting, querying or cancelling failed; the message is the tool's own words."""


@dataclass(frozen=True, kw_only=True, slots=True)
class JobSpec:
    name: str
    job_dir: Path
    config_path: Path

    @property
    def out_dir(self) -> Path:
        return Path(self.job_dir) / OUT_DIR


@dataclass(frozen=True, slots=True)
class JobStatus:
    state: str
    detail: str = ""

    @property
    def final(self) -> bool:
        return self.state in FINAL_STATES


class Backend(abc.ABC):
    name: str

    @abc.abstractmethod
    def render(self, spec: JobSpec) -> str:
        """The exact command line or batch script that submit() will run, for the user to read."""

    @abc.abstractmethod
    def submit(self, spec: JobSpec) -> str:
        """Start the job; returns the external id (pid, SLURM job id)."""

    @abc.abstractmethod
    def status(self, external_id: str, job_dir: Path) -> JobStatus: ...

    @abc.abstractmethod
    def cancel(self, external_id: str, job_dir: Path) -> None: ...

    def logs(self, external_id: str, job_dir: Path, *, tail: int = 50) -> str:
        return tail_file(Path(job_dir) / LOG_FILE, tail)


def torchrun_argv(*, python: str | None, nproc: int, config_path: Path | str,
                  rendezvous: list[str] | None = None) -> list[str]:
    """`torchrun` as `python -m torch.distributed.run`: the same interpreter (and venv) that the job
    was configured with, whatever PATH holds on the node. `rendezvous`: how the torchrun of several
    nodes find each other (--nnodes, --rdzv_*); default `--standalone`, one node."""
    return [python or sys.executable, "-m", "torch.distributed.run", *(rendezvous or ["--standalone"]),
            f"--nproc_per_node={int(nproc)}", "-m", "training.finetune", "--config", str(config_path)]


def shell_join(argv: list[str]) -> str:
    return shlex.join(argv)


def tail_file(path: Path, lines: int) -> str:
    """Last `lines` lines without reading a multi-GB log whole."""
    try:
        with open(path, "rb") as f:
            f.seek(0, 2)
            size = f.tell()
            block = min(size, max(4096, lines * 200))
            f.seek(size - block)
            data = f.read()
    except FileNotFoundError:
        return ""
    text = data.decode("utf-8", errors="replace")
    return "\n".join(text.splitlines()[-lines:]) if lines > 0 else ""


def read_exit_code(job_dir: Path) -> int | None:
    try:
        return int((Path(job_dir) / EXIT_CODE_FILE).read_text().strip())
    except (FileNotFoundError, ValueError):
        return None


def read_training_state(out_dir: Path) -> str | None:
    import json

    try:
        return json.loads((Path(out_dir) / STATUS_FILE).read_text()).get("state")
    except (FileNotFoundError, ValueError, AttributeError):
        return None
