"""The one threading wrapper for all background work in the GUI.

A task is a plain function `fn(ctx, *args)` run on a QThreadPool; `ctx` (a `TaskContext`) is the
`core.progress.Reporter` of the run, so a use case takes it as its `progress` as it is: progress
arrives as a Qt signal, and the Cancel button sets its cancel flag (cooperative: the work checks
`cancelled` or calls `check()` between steps). Results, errors and progress arrive as queued Qt
signals on the GUI thread. Tasks hand back plain records and numpy arrays, never ORM objects, and
never touch widgets.

Every task goes through `Workers.start`, so the application knows at any time what is running
(the status bar shows it, closing the window cancels and waits, tests fail when anything is left).
Errors always reach `Workers.failed`, even when the caller also handles them.
"""
from __future__ import annotations

import itertools
import logging
import threading
import traceback
import weakref
from typing import Any, Callable

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal, Slot

from core.progress import Cancelled, Reporter

log = logging.getLogger(__name__)

# Every Workers ever made, so tests can fail when one still has threads running afterwards.
instances: "weakref.WeakSet[Workers]" = weakref.WeakSet()


class TaskContext(Reporter):
    """The Reporter a task runs with: progress goes to `Worker.signals.progress` (queued to the GUI
    thread), the worker's `cancel()` sets its flag."""

    def __init__(self, worker: "Worker"):
        super().__init__(worker.signals.progress.emit, worker.cancel_event)


class WorkerSignals(QObject):
    progress = Signal(int, int, str)  # done, total, text
    returned = Signal(object)
    errored = Signal(object)  # the exception; its formatted traceback is in `.worker.traceback`
    cancelled = Signal()
    finished = Signal()  # always last, after returned / errored / cancelled


class Worker(QRunnable):
    _ids = itertools.count(1)

    def __init__(self, fn: Callable[..., Any], *args: Any, name: str = "", user_visible: bool = False, **kwargs: Any):
        super().__init__()
        self.setAutoDelete(False)  # Python keeps the reference; Qt must not delete it under us
        self.id = next(self._ids)
        self.name = name or getattr(fn, "__name__", "task")
        self.user_visible = user_visible  # shown in the status bar with a progress bar and cancel
        self.signals = WorkerSignals()
        self.traceback = ""
        self._fn, self._args, self._kwargs = fn, args, kwargs
        self.cancel_event = threading.Event()

    def cancel(self) -> None:
        self.cancel_event.set()

    def run(self) -> None:
        sig = self.signals
        try:
            if self.cancel_event.is_set():
                raise Cancelled()
            result = self._fn(TaskContext(self), *self._args, **self._kwargs)
            if self.cancel_event.is_set():
                raise Cancelled()
        except Cancelled:
            sig.cancelled.emit()
        except BaseException as e:  # noqa: BLE001 - everything must reach the GUI thread
            self.traceback = traceback.format_exc()
            e.worker = self  # type: ignore[attr-defined]
            sig.errored.emit(e)
        else:
            sig.returned.emit(result)
        finally:
            sig.finished.emit()


class Workers(QObject):
    """Owns the thread pools and the list of running tasks.

    Pools: "default" (short I/O: queries, pages, the current image), "thumbs" (thumbnails for the
    tiles on screen), "model" (one thread: forward passes for the selected image, which must not
    overlap), "write" (one thread: label changes are applied in the order the user made them: a
    digit then Ctrl+Z must not swap) and "long" (one thread: imports, predictions, the demo, all
    thumbnails; they queue behind each other and never starve browsing of a thread).
    """

    started = Signal(object)  # Worker
    finished = Signal(object)  # Worker
    failed = Signal(str, str)  # task name, one-line message (the one place errors go)

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self._pools: dict[str, QThreadPool] = {}
        for name, n in (("default", 2), ("thumbs", 2), ("model", 1), ("write", 1), ("long", 1)):
            pool = QThreadPool(self)
            pool.setMaxThreadCount(n)
            pool.setExpiryTimeout(2000)
            self._pools[name] = pool
        self._active: dict[int, Worker] = {}
        instances.add(self)

    def start(
        self,
        fn: Callable[..., Any],
        *args: Any,
        name: str = "",
        pool: str = "default",
        user_visible: bool = False,
        on_result: Callable[[Any], None] | None = None,
        on_error: Callable[[BaseException], None] | None = None,
        on_progress: Callable[[int, int, str], None] | None = None,
        on_done: Callable[[], None] | None = None,
        report_errors: bool = True,
        **kwargs: Any,
    ) -> Worker:
        w = Worker(fn, *args, name=name, user_visible=user_visible, **kwargs)
        s = w.signals
        if on_result:
            s.returned.connect(on_result)
        if on_progress:
            s.progress.connect(on_progress)
        if on_error:
            s.errored.connect(on_error)
        if report_errors:
            s.errored.connect(lambda e, w=w: self._report(w, e))
        if on_done:
            s.finished.connect(on_done)
        s.finished.connect(lambda w=w: self._on_worker_finished(w))
        self._active[w.id] = w
        self.started.emit(w)
        self._pools[pool].start(w)
        return w

    @property
    def active(self) -> list[Worker]:
        return list(self._active.values())

    def cancel_all(self) -> None:
        for w in self.active:
            w.cancel()

    def wait(self, timeout_ms: int = 10_000) -> bool:
        """Block until every pool is idle (used when closing and in tests). True when all stopped."""
        ok = True
        for pool in self._pools.values():
            ok = pool.waitForDone(timeout_ms) and ok
        return ok

    def running_threads(self) -> int:
        return sum(p.activeThreadCount() for p in self._pools.values())

    def shutdown(self, timeout_ms: int = 10_000) -> bool:
        self.cancel_all()
        ok = self.wait(timeout_ms)
        for pool in self._pools.values():
            pool.clear()
        return ok

    def _report(self, w: Worker, e: BaseException) -> None:
        from core.errors import InspectorError

        if isinstance(e, InspectorError):
            msg = str(e)
        else:
            msg = f"{type(e).__name__}: {e}"
            log.error("task %s failed:\n%s", w.name, w.traceback)
        self.failed.emit(w.name, msg)

    @Slot()
    def _on_worker_finished(self, w: Worker) -> None:
        self._active.pop(w.id, None)
        self.finished.emit(w)
