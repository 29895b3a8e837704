"""One progress-and-cancel protocol for every long piece of work (import, predict, train, scan...).

A use case takes a `Reporter` and calls `progress(done, total, message)` as it goes and `check()`
where stopping is safe. The CLI renders it as a progress bar on stderr; the GUI's worker turns it
into Qt signals and sets the cancel flag from its Cancel button. A nested step gets a slice of its
parent's range with `sub(start, stop)`, so a caller composing several steps shows one bar.
"""
from __future__ import annotations

import threading
from collections.abc import Callable

from core.errors import InspectorError

ProgressFn = Callable[[int, int, str], None]  # (done, total, message); total 0 = unknown length


class Cancelled(InspectorError):
    """The user asked the work to stop; raised by `Reporter.check()` at a safe point."""

    def __init__(self, message: str = "cancelled"):
        super().__init__(message)


class Reporter:
    """Progress sink plus cancel flag. Thread-safe: work runs in one thread, cancel comes from another."""

    def __init__(self, on_progress: ProgressFn | None = None, cancel_event: threading.Event | None = None):
        self._on_progress = on_progress
        self._cancel = cancel_event if cancel_event is not None else threading.Event()

    def progress(self, done: int, total: int, message: str = "") -> None:
        if self._on_progress is not None:
            self._on_progress(int(done), int(total), message)

    def fraction(self, fraction: float, message: str = "", scale: int = 1000) -> None:
        """Progress as a fraction of 1 (for work measured in time or steps of unequal size)."""
        self.progress(round(min(max(fraction, 0.0), 1.0) * scale), scale, message)

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    def cancel(self) -> None:
        self._cancel.set()

    def check(self) -> None:
        if self._cancel.is_set():
            raise Cancelled()

    def sub(self, start: float, stop: float, prefix: str = "") -> "Reporter":
        """A reporter for a step covering [start, stop] (fractions) of this one; shares the cancel flag."""
        if self._on_progress is None:
            return Reporter(None, self._cancel)

        def forward(done: int, total: int, message: str) -> None:
            f = start + (stop - start) * (done / total if total else 0.0)
            self.fraction(f, f"{prefix}{message}")

        return Reporter(forward, self._cancel)


def silent() -> Reporter:
    """A reporter that shows nothing and is never cancelled (tests, scripts)."""
    return Reporter()
