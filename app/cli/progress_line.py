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
        self._step: tuple[int, float] | None = None  # (total, start time) of the step being counted

    def __call__(self, done: int, total: int, message: str) -> None:
        now = time.monotonic()
        if self._step is None or self._step[0] != total or done == 0:
            self._step = (total, now)  # a new step: its own clock for the ETA
        finished = total > 0 and done >= total
        if not finished and now - self._last < (0.1 if self.tty else 5.0):
            return
        self._last = now
        bar = f"[{'#' * int(BAR_WIDTH * min(done / total, 1.0)):<{BAR_WIDTH}}] " if total > 0 else ""
        line = f"{bar}{message}{self._eta(done, total, now)}"
        if self.tty:
            self.stream.write(f"\r\033[K{line}" + ("\n" if finished else ""))
        else:
            self.stream.write(line + "\n")
        self.stream.flush()


    def _eta(self, done: int, total: int, now: float) -> str:
        """" · about 1 min 20 s left", once a step has run long enough for its rate to mean something."""
        elapsed = now - self._step[1] if self._step else 0.0
        if total <= 0 or done <= 0 or done >= total or elapsed < 2.0:
            return ""
        left = elapsed / done * (total - done)
        return f" · about {int(left // 60)} min {int(left % 60)} s left" if left >= 60 else f" · about {left:.0f} s left"


def cli_reporter(stream: TextIO | None = None) -> Reporter:
    """A Reporter for a command; Ctrl-C is the command line's cancel (KeyboardInterrupt)."""
    return Reporter(ProgressLine(stream))
