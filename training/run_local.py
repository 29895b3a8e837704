"""`python -m training.run_local --job-dir DIR [--status-file F] -- CMD...`: the local backend's launcher.

It runs CMD (torchrun) as a child in its own process group, waits, and writes CMD's exit status to
DIR/exit_code atomically, so the job's outcome is known even when the app that started it has
long been closed. A SIGTERM to the group (cancel) reaches torchrun and its workers directly; this
wrapper only notes it and keeps waiting, so that the exit code still gets written.

Exit status 75 means "stopped with resume state saved": torchrun itself reports a signal as a plain
failure, so a non-zero status with the training's status.json saying "preempted" is mapped to 75.
"""
from __future__ import annotations

import argparse
import json
import signal
import subprocess
import sys
from pathlib import Path

from core.atomic import write_text_atomic
from training.backends.base import EXIT_CODE_FILE, PREEMPTED_EXIT


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.run_local")
    parser.add_argument("--job-dir", required=True, type=Path)
    parser.add_argument("--status-file", type=Path, help="the training's status.json")
    parser.add_argument("cmd", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    cmd = args.cmd[1:] if args.cmd[:1] == ["--"] else args.cmd
    if not cmd:
        parser.error("no command given")

    signal.signal(signal.SIGTERM, lambda *_: None)  # survive the group SIGTERM; the child decides
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    try:
        proc = subprocess.Popen(cmd)
        rc = proc.wait()
    except OSError as e:
        print(f"run_local: cannot start {cmd[0]}: {e}", file=sys.stderr)
        rc = 127
    if rc < 0:
        rc = 128 - rc  # shell convention for "killed by signal N"
    if rc != 0 and args.status_file is not None and _preempted(args.status_file):
        rc = PREEMPTED_EXIT
    write_exit_code(args.job_dir, rc)
    return rc


def _preempted(status_file: Path) -> bool:
    try:
        return json.loads(status_file.read_text()).get("state") == "preempted"
    except (OSError, ValueError, AttributeError):
        return False


def write_exit_code(job_dir: Path, rc: int) -> None:
    write_text_atomic(job_dir / EXIT_CODE_FILE, f"{rc}\n")


if __name__ == "__main__":
    sys.exit(main())
