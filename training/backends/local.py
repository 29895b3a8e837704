"""Local backend: torchrun as a detached process group on this machine.

The job outlives the app (own session, stdin closed, output to the job folder), and its state is
recovered from the job folder alone: `pid` (pid + kernel start time, so a recycled pid is never
mistaken for our job), `exit_code` (written by training.run_local when torchrun ends) and
`cancel_requested`.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from core.atomic import write_text_atomic
from training.backends.base import (
    CANCEL_FILE,
    CANCELLED,
    FAILED,
    LOG_FILE,
    PREEMPTED_EXIT,
    QUEUED,
    RUNNING,
    STATUS_FILE,
    SUCCEEDED,
    Backend,
    BackendError,
    JobSpec,
    JobStatus,
    read_exit_code,
    shell_join,
    torchrun_argv,
)
from training.profiles import Profile

PID_FILE = "pid"

# Popen objects of jobs started by this process, polled so that they do not linger as zombies.
_children: dict[int, subprocess.Popen] = {}


class LocalBackend(Backend):
    name = "local"

    def __init__(self, profile: Profile):
        self.profile = profile

    def command(self, spec: JobSpec) -> list[str]:
        return torchrun_argv(python=self.profile.python, nproc=self.profile.processes, config_path=spec.config_path)

    def launcher(self, spec: JobSpec) -> list[str]:
        python = self.profile.python or sys.executable
        return [python, "-m", "training.run_local", "--job-dir", str(spec.job_dir),
                "--status-file", str(Path(spec.out_dir) / STATUS_FILE), "--", *self.command(spec)]

    def render(self, spec: JobSpec) -> str:
        return shell_join(self.command(spec))

    def submit(self, spec: JobSpec) -> str:
        if self.profile.gpus > 0:
            import torch

            found = torch.cuda.device_count()
            if found < self.profile.gpus:
                raise BackendError(f"profile {self.profile.name} asks for {self.profile.gpus} GPU(s); "
                                   f"this machine has {found}")
        job_dir = Path(spec.job_dir)
        job_dir.mkdir(parents=True, exist_ok=True)
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        if self.profile.gpus == 0:
            env["CUDA_VISIBLE_DEVICES"] = ""  # a CPU profile must not grab a GPU by "auto"
        with open(job_dir / LOG_FILE, "ab") as log:
            try:
                proc = subprocess.Popen(self.launcher(spec), cwd=job_dir, stdin=subprocess.DEVNULL, stdout=log,
                                        stderr=subprocess.STDOUT, start_new_session=True, env=env, close_fds=True)
            except OSError as e:
                raise BackendError(f"cannot start {self.launcher(spec)[0]}: {e}") from None
        _children[proc.pid] = proc
        _write_json(job_dir / PID_FILE, {"pid": proc.pid, "start": _start_time(proc.pid)})
        return str(proc.pid)

    def status(self, external_id: str, job_dir: Path) -> JobStatus:
        job_dir = Path(job_dir)
        _reap(external_id)
        rc = read_exit_code(job_dir)
        cancel_requested = (job_dir / CANCEL_FILE).exists()
        if rc is not None:
            if rc == 0:
                return JobStatus(SUCCEEDED)
            if rc == PREEMPTED_EXIT:
                return JobStatus(CANCELLED, "stopped; resume state saved")
            if cancel_requested:
                return JobStatus(CANCELLED, f"exit status {rc}")
            return JobStatus(FAILED, f"exit status {rc}")
        info = _read_pid(job_dir)
        if info is None:
            return JobStatus(QUEUED, "starting")
        if _alive(info):
            return JobStatus(RUNNING)
        if cancel_requested:
            return JobStatus(CANCELLED, "killed")
        return JobStatus(FAILED, "the process ended without an exit status (killed, or the machine restarted)")

    def cancel(self, external_id: str, job_dir: Path) -> None:
        job_dir = Path(job_dir)
        info = _read_pid(job_dir)
        (job_dir / CANCEL_FILE).touch()
        if info is None or not _alive(info):
            return
        pgid = info["pid"]  # start_new_session: the launcher leads its own process group
        _signal_group(pgid, signal.SIGTERM)
        deadline = time.monotonic() + self.profile.grace_s
        while time.monotonic() < deadline:
            _reap(external_id)
            if read_exit_code(job_dir) is not None or not _alive(info):
                break
            time.sleep(0.1)
        # Whatever is left (a worker stuck in I/O, the launcher itself) goes now.
        _signal_group(pgid, signal.SIGKILL)
        _reap(external_id, wait_s=5.0)


def _signal_group(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except ProcessLookupError:
        pass
    except PermissionError as e:
        raise BackendError(f"cannot signal job process group {pgid}: {e}") from None


def _reap(external_id: str, wait_s: float = 0.0) -> None:
    try:
        proc = _children.get(int(external_id))
    except ValueError:
        return
    if proc is None:
        return
    try:
        proc.wait(timeout=wait_s) if wait_s else proc.poll()
    except subprocess.TimeoutExpired:
        return
    if proc.returncode is not None:
        _children.pop(proc.pid, None)


def _write_json(path: Path, obj: dict) -> None:
    write_text_atomic(path, json.dumps(obj))


def _read_pid(job_dir: Path) -> dict | None:
    try:
        info = json.loads((job_dir / PID_FILE).read_text())
        return {"pid": int(info["pid"]), "start": info.get("start")}
    except (FileNotFoundError, ValueError, KeyError, TypeError):
        return None


def _proc_stat(pid: int) -> list[str] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    # The command name (field 2) may contain spaces and parentheses: split after the last ')'.
    return text[text.rindex(")") + 2 :].split()


def _start_time(pid: int) -> str | None:
    fields = _proc_stat(pid)
    return fields[19] if fields else None  # field 22 of stat: start time in clock ticks since boot


def _alive(info: dict) -> bool:
    pid = info["pid"]
    if not Path("/proc").is_dir():  # not Linux: trust the pid
        try:
            os.kill(pid, 0)
            return True
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
    fields = _proc_stat(pid)
    if fields is None or fields[0] in ("Z", "X"):
        return False
    return info.get("start") is None or fields[19] == info["start"]
