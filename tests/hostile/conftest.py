"""Hostile-input tests: real files, real SQLite, real processes. The CLI runs as a subprocess, exactly
as a user runs it, so what a test reads is what the user sees (stdout, stderr, exit status)."""
from __future__ import annotations

import hashlib
import os
import re
import stat
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PROGRESS_LINE = re.compile(r"^\[[# ]{30}\] ")  # app.cli.progress_line's bar (BAR_WIDTH 30) before the message
sys.path.insert(0, str(Path(__file__).resolve().parent))  # trees.py


class Run:
    def __init__(self, proc: subprocess.CompletedProcess):
        self.rc, self.out, self.err = proc.returncode, proc.stdout, proc.stderr

    @property
    def messages(self) -> list[str]:
        """stderr without the progress lines (app.cli.progress_line: a bar, then what is being done)."""
        lines = self.err.replace("\r", "\n").replace("\033[K", "").splitlines()
        return [line for line in lines if line and not PROGRESS_LINE.match(line)]

    def __repr__(self) -> str:
        return f"rc={self.rc}\n--- stdout\n{self.out}\n--- stderr\n{self.err}"


def run_cli(*args: str | os.PathLike, cwd: Path | None = None, env: dict | None = None, timeout: float = 300,
            uid: int | None = None) -> Run:
    """`python -m app ARGS...` (as user `uid` if given, through setpriv); never a traceback, never a
    Python warning on stderr (expected failures are one line)."""
    full_env = dict(os.environ, QT_QPA_PLATFORM="offscreen", PYTHONPATH=str(REPO), **(env or {}))
    prefix = [] if uid is None else ["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups"]
    if uid is not None:  # another user has settings and data folders of their own, not this session's
        import tempfile

        own = tempfile.mkdtemp(prefix="inspector-user-")
        os.chown(own, uid, uid)
        full_env.update(HOME=own, INSPECTOR_CONFIG_DIR=os.path.join(own, "config"),
                        INSPECTOR_DATA_DIR=os.path.join(own, "data"))
    proc = subprocess.run([*prefix, sys.executable, "-m", "app", *map(os.fspath, args)], cwd=cwd, env=full_env,
                          capture_output=True, text=True, timeout=timeout, errors="surrogateescape")
    run = Run(proc)
    assert "Traceback" not in run.err and "Warning:" not in run.err, run
    return run


@pytest.fixture
def cli():
    """cli(*args, cwd=None, env=None) -> Run(rc, out, err, messages)."""
    return run_cli


def sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def tree_state(root: Path) -> dict[str, tuple]:
    """Every entry under `root` (symlinks not followed): kind and content hash / link target / mode."""
    out: dict[str, tuple] = {}
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        for name in dirnames + filenames:
            p = Path(dirpath) / name
            st = os.lstat(p)
            rel = os.fsencode(p.relative_to(root))
            if stat.S_ISLNK(st.st_mode):
                out[rel] = ("link", os.readlink(p))
            elif stat.S_ISREG(st.st_mode):
                out[rel] = ("file", sha256(p), st.st_mode, st.st_mtime_ns)
            else:
                out[rel] = (stat.S_IFMT(st.st_mode), st.st_mode, st.st_mtime_ns)
    return out


@pytest.fixture
def state():
    """state(root) -> everything under root, to compare before/after: nothing else was written."""
    return tree_state
