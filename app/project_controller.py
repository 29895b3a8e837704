"""The project's life in the window: open, import, the demo, predict, thumbnails, the user name.

Each action runs a use case in a worker (the status bar shows it with a progress bar and Cancel)
and writes what came back into the project state, which the panels follow. It never queries on
the GUI thread.
"""
from __future__ import annotations

import os
from typing import TYPE_CHECKING, Callable

from PySide6.QtCore import QObject, Signal

from app.project_state import ProjectState
from app.settings import Settings
from app.workers import Worker, Workers
from usecases.demo_project import prepare_demo
from usecases.project_overview import ProjectOverview, open_overview, reload_overview

if TYPE_CHECKING:
    from app.browser.browsing import Browsing
    from core.inference.predict import PredictReport
    from core.store.records import ImportReport

OPEN_TASKS = ("Open project", "Demo", "Import")  # the tasks a headless start waits for


class ProjectController(QObject):
    busy = Signal(str)  # what the welcome page says meanwhile ("" = nothing)
    message = Signal(str, int)  # a status-bar message and how long it stays (ms)
    imported = Signal(str, object)  # (project path, ImportReport) after an import, before the project opens

    def __init__(self, state: ProjectState, workers: Workers, settings: Settings, workspace: Callable[[], Browsing],
                 parent: QObject | None = None):
        """`workspace` builds the panels if they are not yet (they must hear the project open) and
        returns the browser."""
        super().__init__(parent)
        self._state, self._workers, self._settings, self._workspace = state, workers, settings, workspace

    def open_project(self, path: str | os.PathLike, on_done: Callable[[], None] | None = None) -> None:
        """Open in a worker; `on_done` runs once the first page of images is shown."""
        self.busy.emit(f"Opening {path}…")
        browsed = self._settings.browsed_model(path)  # the version this project was browsed with last time
        self._workers.start(lambda _c: open_overview(path, browsed), name="Open project", user_visible=True,
                            on_result=lambda ov: self._on_opened(ov, on_done), on_error=lambda _e: self.busy.emit(""))

    def import_dataset(self, folder: str, db: str) -> None:
        from usecases.dataset_import import import_dataset

        self.busy.emit(f"Importing {folder}…")
        user = self._settings.user
        self._workers.start(lambda ctx: import_dataset(db, folder, user=user, progress=ctx), name="Import",
                            user_visible=True, pool="long", on_progress=self._on_busy_progress,
                            on_result=lambda outcome: self._on_imported(db, outcome.report),
                            on_error=lambda _e: self.busy.emit(""))

    def prepare_demo(self, folder: str | os.PathLike, on_done: Callable[[], None] | None = None,
                     terminal: Callable[[int, int, str], None] | None = None) -> None:
        """`terminal`: also report the progress there (`inspector demo` draws it on stderr)."""
        self.busy.emit("Preparing the demo: data, model, predictions…")
        user = self._settings.user

        def progress(done: int, total: int, text: str) -> None:
            self._on_busy_progress(done, total, text)
            if terminal is not None:
                terminal(done, total, text)

        self._workers.start(lambda ctx: prepare_demo(folder, user, progress=ctx), name="Demo", user_visible=True,
                            pool="long", on_progress=progress,
                            on_result=lambda db: self.open_project(db, on_done), on_error=lambda _e: self.busy.emit(""))

    def start_prediction(self, model_id: int, on_done: Callable[[], None] | None = None) -> Worker | None:
        """Predict the project's images with a model version, then rank suspected label errors
        (resumable; cancel from the status bar)."""
        from usecases.prediction import predict

        project = self._state.project
        if project is None:
            return None
        # num_workers=0: no decoding processes forked from a GUI process that has threads running.
        return self._workers.start(lambda ctx: predict(project, model_id, num_workers=0, rank=True, progress=ctx),
                                   name="Predict", user_visible=True, pool="long",
                                   on_result=lambda report: self._on_predicted(report, model_id), on_done=on_done)

    def predict_current(self) -> None:
        if self._state.model_version_id is not None:
            self.start_prediction(self._state.model_version_id)

    def browse_version(self, model_id: int | None = None) -> None:
        """Read the versions again and browse `model_id` (default: the one browsed so far)."""
        overview = self._state.overview
        if overview is not None:
            self._workers.start(lambda _c: reload_overview(overview, model_id), name="Load models",
                                on_result=self._show_overview)

    def make_thumbnails(self) -> Worker | None:
        from usecases.thumbnail_prefill import make_thumbnails

        project, cache = self._state.project, self._state.thumbnail_dir
        if project is None:
            return None
        return self._workers.start(lambda ctx: make_thumbnails(project, cache, progress=ctx), name="Thumbnails",
                                   user_visible=True, pool="long")

    def set_user(self, name: str) -> None:
        self._settings.user = name
        self._state.set_user(name)

    # -- results

    def _on_opened(self, overview: ProjectOverview, on_done: Callable[[], None] | None) -> None:
        self._settings.last_project = overview.location.display  # a URL without its password
        self.busy.emit("")
        browser = self._workspace()
        if on_done is not None:
            browser.after_next_query(on_done)
        self._show_overview(overview, user=self._settings.user)

    def _show_overview(self, overview: ProjectOverview, user: str | None = None) -> None:
        """Show it, and remember per project which version is browsed (a restart comes back to it)."""
        self._settings.set_browsed_model(overview.location.display, overview.model_version_id)
        self._state.set_overview(overview, user=user)

    def _on_busy_progress(self, done: int, total: int, text: str) -> None:
        # The status bar has the bar and the cancel button; the welcome page says what is happening.
        self.busy.emit(text or (f"{done}/{total}" if total else "working…"))

    def _on_imported(self, db: str, report: ImportReport) -> None:
        self.message.emit(report.summary_lines()[0], 10000)
        self.imported.emit(db, report)  # the window lists every file that did not come in, with the reason
        # Thumbnails for the whole dataset in the background, so browsing is instant afterwards.
        self.open_project(db, on_done=self.make_thumbnails)

    def _on_predicted(self, report: PredictReport, model_id: int) -> None:
        """Browse the new predictions only when nothing else was browsed: a version the user chose
        stays chosen, the new one is offered."""
        current = self._state.model_version
        if current is None or current.id == model_id:
            self.message.emit(report.summary(), 15000)
            self.browse_version(model_id)
            return
        name = next((m.name for m in self._state.model_versions if m.id == model_id), str(model_id))
        self.message.emit(f"{report.summary()} · still browsing {current.name}: Models ▸ select {name} ▸ "
                          f"Browse with it to switch", 20000)
        self.browse_version()

