"""The command line's one progress renderer: a `core.progress.Reporter` drawn as a line on stderr.

On a terminal the line is redrawn in place at most 10 times a second; in a log or a pipe a line is
written every 5 seconds and at the end of each step, so a log shows that work goes on without one
line per image. stdout stays for the command's result.
"""
from __future__ import annotations

import sys
import time
from typing import TextIO

from core.progress import Reporter

BAR_WIDTH = 30


class ProgressLine:
    def __init__(self, stream: TextIO | None = None):
        self.stream = stream if stream is not None else sys.stderr
        self.tty = self.stream.isatty()
        self._last = 0.0

    def __call__(self, done: int, total: int, message: str) -> None:
        now = time.monotonic()
        finished = total > 0 and done >= total
        if not finished and now - self._last < (0.1 if self.tty else 5.0):
            return
        self._last = now
        bar = f"[{'#' * int(BAR_WIDTH * min(done / total, 1.0)):<{BAR_WIDTH}}] " if total > 0 else ""
        line = f"{bar}{message}"
        if self.tty:
            self.stream.write(f"\r\033[K{line}" + ("\n" if finished else ""))
        else:
            self.stream.write(line + "\n")
        self.stream.flush()


def cli_reporter(stream: TextIO | None = None) -> Reporter:
    """A Reporter for a command; Ctrl-C is the command line's cancel (KeyboardInterrupt)."""
    return Reporter(ProgressLine(stream))
