"""The main window: browser (filters + thumbnail grid), image view, attention, history, models, jobs.

It wires passive widgets to the workers that feed them; it never queries the database or runs a
model on the GUI thread. torch is never imported here (see tests/app/test_gui_startup.py).
"""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QByteArray, Qt, QTimer
from PySide6.QtGui import QAction, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QDockWidget,
    QFileDialog,
    QInputDialog,
    QLabel,
    QMainWindow,
    QMenu,
    QMessageBox,
    QSplitter,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from app.browser.store_source import StoreTileSource, TileQuery
from app.labeling import Labeling, LabelOutcome
from app.project_context import ProjectContext, open_context, reload_models
from app.settings import Settings
from app.widgets.qt_task_status import QtTaskStatus
from app.widgets.qt_welcome import QtWelcome
from app.workers import Workers

# The workspace (pyqtgraph, superqt, every panel) is built just after the window is on screen:
# importing pyqtgraph alone costs more than the whole welcome screen.
WORKSPACE_DELAY_MS = 30


class QtMainWindow(QMainWindow):
    def __init__(self, settings: Settings | None = None, workers: Workers | None = None, *, restore_layout: bool = True):
        super().__init__()
        self.restore_layout = restore_layout  # off for screenshots: always the default layout
        self.settings = settings or Settings()
        self.workers = workers or Workers(self)
        self.ctx: ProjectContext | None = None
        self.setWindowTitle("Inspector")
        self.resize(1600, 1000)

        self.welcome = QtWelcome()
        self.task_status = QtTaskStatus(self.workers)
        self.labeling = Labeling(self.workers, self)
        self.stack = QStackedWidget()
        self.stack.addWidget(self.welcome)
        self.setCentralWidget(self.stack)
        self.statusBar().addPermanentWidget(self.task_status)
        self._workspace = False
        self._build_actions()
        self.welcome.open_dataset.connect(self._on_open_dataset)
        self.welcome.open_project.connect(self._on_open_project)
        self.welcome.create_demo.connect(self._on_create_demo)
        self.welcome.open_recent.connect(self.open_project)
        self.labeling.changed.connect(self._on_labels_changed)
        self.labeling.conflict.connect(self._on_label_conflict)
        self.labeling.message.connect(lambda text: self.statusBar().showMessage(text, 6000))
        self.welcome.set_recent(self.settings.last_project)
        QTimer.singleShot(WORKSPACE_DELAY_MS, self.ensure_workspace)

    def ensure_workspace(self) -> None:
        """Build the browser, image view and panels (once)."""
        if self._workspace:
            return
        self._workspace = True
        import pyqtgraph as pg

        pg.setConfigOptions(imageAxisOrder="row-major", antialias=True)
        from app.attention.qt_attention_panel import QtAttentionPanel
        from app.browser.image_list_model import ImageListModel
        from app.browser.qt_filter_panel import QtFilterPanel
        from app.browser.qt_thumbnail_grid import QtThumbnailGrid
        from app.browser.thumbnail_provider import ThumbnailProvider
        from app.inspection import Inspection
        from app.jobs.qt_jobs_panel import QtJobsPanel
        from app.model_versions.qt_model_versions_panel import QtModelVersionsPanel
        from app.widgets.qt_history_panel import QtHistoryPanel
        from app.widgets.qt_image_pane import QtImagePane

        self.thumbs = ThumbnailProvider(self.workers, None, parent=self)
        self.image_model = ImageListModel(self.workers, None, self.thumbs, parent=self)
        self.grid = QtThumbnailGrid(self.image_model)
        self.filters = QtFilterPanel()
        self.image_pane = QtImagePane()
        self.image_view, self.prob_bars, self.legend = self.image_pane.view, self.image_pane.bars, self.image_pane.legend
        self.attention = QtAttentionPanel()
        self.history = QtHistoryPanel()
        self.inspection = Inspection(self.workers, self.image_view, self.prob_bars, self.attention, self.history, self)
        self._build_layout()
        self.models_panel = QtModelVersionsPanel(self.workers)
        self.models_dock = self.add_panel("Models", self.models_panel)
        self.jobs_panel = QtJobsPanel(self.workers)
        self.jobs_dock = self.add_panel("Jobs", self.jobs_panel)
        self._connect()

    # -- layout

    def _build_layout(self) -> None:
        from app.browser.tile_delegate import legend_html

        left = QWidget()
        ll = QVBoxLayout(left)
        ll.setContentsMargins(0, 0, 0, 0)
        ll.setSpacing(2)
        ll.addWidget(self.grid, 1)
        self.grid_legend = QLabel(legend_html())
        self.grid_legend.setWordWrap(True)
        self.grid_legend.setStyleSheet("font-size: 11px; color: #bbbbbb; padding: 2px 4px;")
        ll.addWidget(self.grid_legend)
        self.center_split = QSplitter(Qt.Orientation.Horizontal)
        self.center_split.addWidget(left)
        self.center_split.addWidget(self.image_pane)
        self.center_split.setStretchFactor(0, 0)  # extra width goes to the image
        self.center_split.setStretchFactor(1, 1)
        self.center_split.setSizes([490, 600])
        self.stack.addWidget(self.center_split)

        self.filter_dock = self._dock("Filters", self.filters, Qt.DockWidgetArea.LeftDockWidgetArea)
        self.attention_dock = self._dock("Attention", self.attention, Qt.DockWidgetArea.RightDockWidgetArea)
        self.history_dock = self._dock("History", self.history, Qt.DockWidgetArea.BottomDockWidgetArea)
        self.filter_dock.setMinimumWidth(220)
        self.attention_dock.setMinimumWidth(440)
        for d in (self.filter_dock, self.attention_dock, self.history_dock):
            self.view_menu.addAction(d.toggleViewAction())
        self._set_workspace_visible(False)

    def _dock(self, title: str, widget: QWidget, area: Qt.DockWidgetArea) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(f"dock_{title.lower()}")
        dock.setWidget(widget)
        self.addDockWidget(area, dock)
        return dock

    def add_panel(self, title: str, widget: QWidget) -> QDockWidget:
        """Bottom panels (history, models, jobs) share one tabbed area."""
        dock = self._dock(title, widget, Qt.DockWidgetArea.BottomDockWidgetArea)
        self.tabifyDockWidget(self.history_dock, dock)
        self.history_dock.raise_()
        self.view_menu.addAction(dock.toggleViewAction())
        dock.setVisible(self.stack.currentIndex() == 1)
        return dock

    def _build_actions(self) -> None:
        m = self.menuBar().addMenu("&File")
        self._action(m, "Open &dataset folder…", self._on_open_dataset, QKeySequence("Ctrl+Shift+O"))
        self._action(m, "&Open project…", self._on_open_project, QKeySequence.StandardKey.Open)
        self._action(m, "Create &demo project…", self._on_create_demo)
        m.addSeparator()
        self._action(m, "Set &user name…", self._on_set_user)
        m.addSeparator()
        self._action(m, "&Quit", self.close, QKeySequence.StandardKey.Quit)
        e = self.menuBar().addMenu("&Edit")
        self.undo_action = self._action(e, "&Undo label change", self.labeling.undo, QKeySequence("Ctrl+Z"))
        self.redo_action = self._action(e, "&Redo label change", self.labeling.redo, QKeySequence("Ctrl+Shift+Z"))
        t = self.menuBar().addMenu("&Model")
        self._action(t, "&Fine-tune…", self.open_finetune_dialog, QKeySequence("Ctrl+T"))
        self._action(t, "&Predict with the current model", lambda: self.ctx and self.ctx.model_id and
                     self.start_prediction(self.ctx.model_id))
        d = self.menuBar().addMenu("&Data")
        self._action(d, "Make all &thumbnails", self.make_thumbnails)
        self.view_menu = self.menuBar().addMenu("&View")
        for key, delta in (("J", 1), ("Right", 1), ("K", -1), ("Left", -1)):
            QShortcut(QKeySequence(key), self, lambda d=delta: self._workspace and self.grid.step(d))
        for i in range(9):
            QShortcut(QKeySequence(str(i + 1)), self, lambda i=i: self._on_digit(i))
        QShortcut(QKeySequence("F"), self, lambda: self._workspace and self.image_view.fit())

    def _action(self, menu, text, slot, shortcut=None) -> QAction:
        a = QAction(text, self)
        if shortcut is not None:
            a.setShortcut(shortcut)
        a.triggered.connect(lambda _=False: slot())
        menu.addAction(a)
        return a

    def _connect(self) -> None:
        self.filters.changed.connect(self._on_filters_changed)
        self.grid.current_tile_changed.connect(self._on_current_tile_changed)
        self.grid.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.grid.customContextMenuRequested.connect(self._on_grid_menu)
        self.image_model.query_finished.connect(self._on_query_finished)
        self.legend.class_chosen.connect(self._on_class_chosen)
        self.models_panel.use_model.connect(self.reload_models)
        self.models_panel.predict_requested.connect(self.start_prediction)
        self.models_panel.filter_requested.connect(self._on_confusion_cell)
        self.jobs_panel.finetune_requested.connect(self.open_finetune_dialog)
        self.jobs_panel.predict_and_compare.connect(self.predict_and_compare)

    def _set_workspace_visible(self, on: bool) -> None:
        if on:
            self.ensure_workspace()
        self.stack.setCurrentIndex(1 if on else 0)
        for d in self.findChildren(QDockWidget):
            d.setVisible(on)

    # -- projects

    def open_project(self, path: str | Path, on_done=None) -> None:
        self.welcome.set_busy(f"Opening {path}…")
        user = self.settings.user
        self.workers.start(lambda _c: open_context(path, user), name="Open project", user_visible=True,
                           on_result=lambda ctx: self._on_project_opened(ctx, on_done),
                           on_error=lambda _e: self.welcome.set_busy(""))

    def _on_project_opened(self, ctx: ProjectContext, on_done=None) -> None:
        self.ensure_workspace()
        old = self.ctx
        self.ctx = ctx
        self.settings.last_project = str(ctx.path)
        self.setWindowTitle(f"Inspector — {ctx.path.name} — {ctx.user}")
        self.welcome.set_busy("")
        self.image_model.source = StoreTileSource(ctx.project)
        self.thumbs.set_cache_dir(ctx.thumbnail_dir)
        self.labeling.ctx = ctx
        self.inspection.set_context(ctx)
        self.filters.set_classes(ctx.class_names)
        self.legend.set_classes(ctx.class_names)
        self._set_workspace_visible(True)
        self._restore_layout()
        if old is not None and old.project is not ctx.project:
            old.project.close()
        self.models_panel.set_context(ctx)
        self.jobs_panel.set_context(ctx)
        self._run_query(on_done)

    def set_context(self, ctx: ProjectContext) -> None:
        """Models changed (new predictions, another model chosen): re-query with the same filters."""
        self.ctx = ctx
        self.labeling.ctx = ctx
        self.inspection.set_context(ctx)
        self.filters.set_classes(ctx.class_names)
        self.legend.set_classes(ctx.class_names)
        self.models_panel.set_context(ctx)
        self.jobs_panel.set_context(ctx)
        self._run_query()

    def reload_models(self, model_id: int | None = None) -> None:
        if self.ctx is None:
            return
        ctx = self.ctx
        self.workers.start(lambda _c: reload_models(ctx, model_id), name="Load models", on_result=self.set_context)

    def start_prediction(self, model_id: int, on_done=None):
        """Predict the project's images with a model version (resumable; cancel from the status bar)."""
        from app.tasks import predict

        return self.workers.start(predict, self.ctx.project, model_id, name="Predict", user_visible=True, pool="long",
                                  on_result=lambda report: self._on_predicted(report, model_id), on_done=on_done)

    def predict_and_compare(self, new_id: int, base_id: int | None) -> None:
        """After a fine-tune: predict with the new version, then show it against its base."""
        base = base_id if base_id is not None else (self.ctx.model_id if self.ctx else None)

        def compare() -> None:
            if base is not None and base != new_id:
                self.models_panel.compare(base, new_id)
            self.models_dock.raise_()

        self.start_prediction(new_id, on_done=compare)

    def open_finetune_dialog(self):
        from app.jobs.qt_finetune_dialog import QtFinetuneDialog

        if self.ctx is None:
            return None
        dialog = QtFinetuneDialog(self.ctx.project, self.ctx.models, self.ctx.model_id, self)
        dialog.accepted.connect(lambda: self.jobs_panel.submit(dialog.request()))
        dialog.finished.connect(dialog.deleteLater)
        dialog.open()
        self.jobs_dock.raise_()
        return dialog

    def _on_predicted(self, report, model_id: int) -> None:
        self.statusBar().showMessage(report.summary(), 15000)
        self.reload_models(model_id)
        self.models_panel.refresh()

    def _run_query(self, on_done=None) -> None:
        if self.ctx is None:
            return
        q = TileQuery(self.filters.state(), self.ctx.model_id, self.ctx.user)
        self.image_model.set_query(q, on_done)

    def apply_filter(self, state) -> None:
        self.filters.set_state(state)

    # -- handlers

    def _on_filters_changed(self, _state) -> None:
        self._run_query()

    def _on_query_finished(self, total: int) -> None:
        self.filters.set_count(total)
        if total and not self.grid.currentIndex().isValid():
            self.grid.select_row(0)

    def _on_current_tile_changed(self, tile) -> None:
        self.inspection.show(tile)
        self.image_pane.set_tile(tile)
        row = self.grid.currentIndex().row()
        if tile is not None and row >= 0:
            self.inspection.prefetch(self.image_model.tile(row + 1, request=False))

    def _on_confusion_cell(self, label: str, predicted: str) -> None:
        """Show the images of one confusion-matrix cell, with the predictions of the model it belongs to."""
        from app.browser.filter_state import FilterState

        self.apply_filter(FilterState(labels=(label,), predicted=(predicted,), sort=self.filters.state().sort))
        chosen = self.models_panel.selected_id
        if chosen is not None and self.ctx is not None and chosen != self.ctx.model_id:
            self.reload_models(chosen)

    def _on_grid_menu(self, pos) -> None:
        if self.ctx is None:
            return
        n = len(self.grid.selected_tiles())
        menu = QMenu(self)
        menu.addSection(f"Label {n} selected image{'s' if n != 1 else ''} as")
        for i, name in enumerate(self.ctx.class_names):
            a = menu.addAction(f"{name}\t{i + 1}" if i < 9 else name)
            a.triggered.connect(lambda _=False, name=name: self._on_class_chosen(name))
        menu.popup(self.grid.viewport().mapToGlobal(pos))
        self.grid_menu = menu

    def _on_digit(self, i: int) -> None:
        if self._workspace and self.ctx is not None and i < len(self.ctx.class_names):
            self._on_class_chosen(self.ctx.class_names[i])

    def _on_class_chosen(self, name: str) -> None:
        tiles = self.grid.selected_tiles()
        current = self.grid.current_tile()
        if len(tiles) <= 1:
            tiles = [current] if current is not None else []
        self.labeling.assign(tiles, name)

    def _on_labels_changed(self, out: LabelOutcome) -> None:
        # The reloaded tiles carry new label versions; the inspection reloads the history then.
        self.image_model.invalidate_rows(out.changed)

    def _on_label_conflict(self, e) -> None:
        self.image_model.refresh()
        box = QMessageBox(QMessageBox.Icon.Warning, "Label changed by someone else",
                          f"{e.user or 'Another inspector'} set this image to "
                          f"“{e.label if e.label is not None else '(unlabeled)'}” (version {e.version}) after you loaded it "
                          f"(version {e.expected_version}).\n\nYour change was not saved. The current value is shown now; "
                          "press the digit again to override it.", QMessageBox.StandardButton.Ok, self)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.open()
        self.conflict_box = box

    def _on_open_project(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open project", "", "Inspector projects (*.db *.sqlite);;All files (*)")
        if path:
            self.open_project(path)

    def _on_open_dataset(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Open a dataset folder")
        if not folder:
            return
        default = str(Path(folder).with_suffix(".inspector.db"))
        db, _ = QFileDialog.getSaveFileName(self, "Save the project as", default, "Inspector projects (*.db)")
        if db:
            self.import_dataset(folder, db)

    def import_dataset(self, folder: str, db: str) -> None:
        from app.tasks import import_dataset

        self.welcome.set_busy(f"Importing {folder}…")
        user = self.settings.user
        self.workers.start(import_dataset, folder, db, user, name="Import", user_visible=True, pool="long",
                           on_progress=self._on_welcome_progress,
                           on_result=lambda report: self._on_imported(db, report),
                           on_error=lambda _e: self.welcome.set_busy(""))

    def _on_welcome_progress(self, done: int, total: int, text: str) -> None:
        # The status bar has the bar and the cancel button; the welcome page says what is happening.
        self.welcome.set_busy(text or (f"{done}/{total}" if total else "working…"))

    def _on_imported(self, db: str, report) -> None:
        self.statusBar().showMessage(report.summary_lines()[0], 10000)
        # Thumbnails for the whole dataset in the background, so browsing is instant afterwards.
        self.open_project(db, on_done=self.make_thumbnails)

    def make_thumbnails(self):
        from app.tasks import make_thumbnails

        if self.ctx is None:
            return None
        return self.workers.start(make_thumbnails, self.ctx.project, str(self.ctx.thumbnail_dir), name="Thumbnails",
                                  user_visible=True, pool="long")

    def _on_create_demo(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Folder for the demo project")
        if folder:
            self.prepare_demo(folder)

    def prepare_demo(self, folder: str | Path, on_done=None) -> None:
        from app.tasks import prepare_demo

        self.welcome.set_busy("Preparing the demo: data, model, predictions…")
        self.workers.start(prepare_demo, str(folder), self.settings.user, name="Demo", user_visible=True, pool="long",
                           on_progress=self._on_welcome_progress,
                           on_result=lambda db: self.open_project(db, on_done),
                           on_error=lambda _e: self.welcome.set_busy(""))

    def _on_set_user(self) -> None:
        name, ok = QInputDialog.getText(self, "User name", "Your name in the label history:", text=self.settings.user)
        if ok and name.strip():
            self.settings.user = name.strip()
            if self.ctx is not None:
                self.set_context(self.ctx.with_user(name.strip()))
                self.setWindowTitle(f"Inspector — {self.ctx.path.name} — {self.ctx.user}")

    # -- persistence and shutdown

    def _restore_layout(self) -> None:
        if getattr(self, "_layout_restored", False):
            return
        self._layout_restored = True
        geometry, state = self.settings.window_state() if self.restore_layout else (None, None)
        if isinstance(geometry, QByteArray):
            self.restoreGeometry(geometry)
        if isinstance(state, QByteArray) and self.restoreState(state):
            return
        QTimer.singleShot(0, self._default_layout)

    def _default_layout(self) -> None:
        self.resizeDocks([self.filter_dock, self.attention_dock], [230, 520], Qt.Orientation.Horizontal)
        self.resizeDocks([self.history_dock], [250], Qt.Orientation.Vertical)
        self.history_dock.raise_()
        grid = self.grid.sizeHint().width()
        total = sum(self.center_split.sizes())
        self.center_split.setSizes([grid, max(total - grid, 300)])

    def closeEvent(self, ev) -> None:
        if self.stack.currentIndex() == 1 and self.restore_layout:
            self.settings.save_window_state(self.saveGeometry(), self.saveState())
        self.settings.sync()
        self.shutdown()
        super().closeEvent(ev)

    def shutdown(self) -> None:
        """Cancel every task and wait for the threads (a closed window leaves nothing running)."""
        for t in self.findChildren(QTimer):
            t.stop()
        self.workers.shutdown()
        if self.ctx is not None:
            self.ctx.project.close()

    def is_idle(self) -> bool:
        busy = self._workspace and (not self.thumbs.idle or self.image_model.querying or self.image_model.pending_pages)
        return not self.workers.active and not busy
