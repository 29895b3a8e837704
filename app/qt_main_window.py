"""The main window: the docks and the wiring between the project state, the controllers and the
panels. Browser (filters + thumbnail grid), image view, attention, history, model versions, jobs.

Panels follow `ProjectState` themselves; the window only builds them, lays them out, and connects
what one panel asks of another. It never queries the database or runs a model on the GUI thread,
and torch is never imported here (see tests/app/test_gui_startup.py).
"""
from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from PySide6.QtCore import QByteArray, Qt, QTimer
from PySide6.QtWidgets import QDockWidget, QMainWindow, QSplitter, QStackedWidget, QWidget

from app.label_controller import LabelController, conflict_box
from app.project_controller import ProjectController
from app.project_state import ProjectState
from app.settings import Settings
from app.widgets.qt_task_status import QtTaskStatus
from app.widgets.qt_welcome import QtWelcome
from app.window_actions import WindowActions
from app.workers import Workers

if TYPE_CHECKING:
    from app.browser.browsing import Browsing
    from core.errors import LabelConflict
    from core.store.records import ImportReport

# The workspace (pyqtgraph, superqt, every panel) is built just after the window's first frame is
# on screen: importing pyqtgraph alone costs more than the whole welcome screen, and building it
# before that frame left the new window black for half a second on X11. The fallback delay covers
# a window that never paints (hidden, or a screenshot run that opens a project first).
WORKSPACE_FALLBACK_MS = 600
# A restored layout below these is worse than the default one and is replaced by it.
MIN_IMAGE_WIDTH, MIN_IMAGE_HEIGHT, MIN_ATTENTION_WIDTH = 240, 240, 300
MIN_WINDOW = (1280, 800)
log = logging.getLogger(__name__)


class QtMainWindow(QMainWindow):
    def __init__(self, settings: Settings | None = None, workers: Workers | None = None, *, restore_layout: bool = True):
        super().__init__()
        self.restore_layout = restore_layout  # off for screenshots: always the default layout
        self.settings = settings or Settings()
        self.workers = workers or Workers(self)
        self.state = ProjectState(self)
        self.controller = ProjectController(self.state, self.workers, self.settings, self.ensure_workspace, self)
        self.labeling = LabelController(self.state, self.workers, self)
        self.setWindowTitle("Inspector")
        self.resize(1600, 1000)
        self.welcome = QtWelcome()
        self.task_status = QtTaskStatus(self.workers)
        self.stack = QStackedWidget()
        self.stack.addWidget(self.welcome)
        self.setCentralWidget(self.stack)
        self.statusBar().addPermanentWidget(self.task_status)
        self.workspace_built = False
        self._layout_restored = False
        self.window_actions = WindowActions(self)
        self.controller.busy.connect(self.welcome.set_busy)
        self.controller.message.connect(self.statusBar().showMessage)
        self.controller.imported.connect(self._on_imported)
        self.labeling.message.connect(lambda text: self.statusBar().showMessage(text, 6000))
        self.labeling.conflict.connect(self._on_label_conflict)
        self.state.project_changed.connect(self._on_project_changed)
        self.welcome.set_recent(self.settings.last_project)
        self._painted = False
        QTimer.singleShot(WORKSPACE_FALLBACK_MS, self.ensure_workspace)

    def paintEvent(self, ev) -> None:
        super().paintEvent(ev)
        if not self._painted:
            self._painted = True
            QTimer.singleShot(0, self.ensure_workspace)  # once this frame has reached the screen

    def ensure_workspace(self) -> Browsing:
        """Build the browser, image view and panels (once); returns the browser."""
        if self.workspace_built:
            return self.browser
        self.workspace_built = True
        import pyqtgraph as pg

        pg.setConfigOptions(imageAxisOrder="row-major", antialias=True)
        from app.attention.qt_attention_panel import QtAttentionPanel
        from app.browser.browsing import Browsing
        from app.inspection import Inspection
        from app.jobs.qt_jobs_panel import QtJobsPanel
        from app.model_versions.qt_model_versions_panel import QtModelVersionsPanel
        from app.review.qt_review_panel import QtReviewPanel
        from app.widgets.qt_history_panel import QtHistoryPanel
        from app.widgets.qt_image_pane import QtImagePane

        s, w = self.state, self.workers
        self.browser = Browsing(s, w, self)
        self.image_pane = QtImagePane()
        self.attention = QtAttentionPanel()
        self.history = QtHistoryPanel()
        self.inspection = Inspection(s, w, self.image_pane.view, self.image_pane.bars, self.attention, self.history, self)
        self.versions_panel = QtModelVersionsPanel(s, w)
        self.jobs_panel = QtJobsPanel(s, w)
        self.review_panel = QtReviewPanel(s, w)
        self._build_docks()
        self._connect_panels()
        return self.browser

    def _build_docks(self) -> None:
        self.center_split = QSplitter(Qt.Orientation.Horizontal)
        self.center_split.addWidget(self.browser.view)
        self.center_split.addWidget(self.image_pane)
        self.center_split.setStretchFactor(0, 0)  # extra width goes to the image
        self.center_split.setStretchFactor(1, 1)
        self.center_split.setSizes([490, 600])
        self.stack.addWidget(self.center_split)
        bottom = Qt.DockWidgetArea.BottomDockWidgetArea
        self.filter_dock = self._dock("Filters", self.browser.filters, Qt.DockWidgetArea.LeftDockWidgetArea, 220)
        self.attention_dock = self._dock("Attention", self.attention, Qt.DockWidgetArea.RightDockWidgetArea, 440)
        self.history_dock = self._dock("History", self.history, bottom)
        # The bottom panels share one tabbed area; object names ("dock_models") keep saved layouts valid.
        self.versions_dock = self._dock("Models", self.versions_panel, bottom)
        self.jobs_dock = self._dock("Jobs", self.jobs_panel, bottom)
        self.review_dock = self._dock("Review", self.review_panel, bottom)
        for dock in (self.versions_dock, self.jobs_dock, self.review_dock):
            self.tabifyDockWidget(self.history_dock, dock)
        self.history_dock.raise_()
        self._set_workspace_visible(False)

    def _dock(self, title: str, widget: QWidget, area: Qt.DockWidgetArea, min_width: int = 0) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(f"dock_{title.lower()}")
        dock.setWidget(widget)
        dock.setMinimumWidth(min_width)
        self.addDockWidget(area, dock)
        self.window_actions.view_menu.addAction(dock.toggleViewAction())
        return dock

    def _connect_panels(self) -> None:
        s, b = self.state, self.browser
        s.project_changed.connect(lambda: self.image_pane.legend.set_classes(s.class_names))
        s.selection_changed.connect(self.image_pane.set_tile)
        s.selection_changed.connect(lambda _t: self.inspection.prefetch(b.next_tile()))
        b.grid.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        b.grid.customContextMenuRequested.connect(self.window_actions.show_grid_menu)
        self.image_pane.legend.class_chosen.connect(self.window_actions.label_targets)
        self.versions_panel.use_model.connect(self.controller.browse_version)
        self.versions_panel.predict_requested.connect(self.controller.start_prediction)
        self.versions_panel.filter_requested.connect(self._on_confusion_cell)
        self.jobs_panel.finetune_requested.connect(self.window_actions.open_finetune_dialog)
        self.jobs_panel.predict_and_compare.connect(self.predict_and_compare)
        self.review_panel.tile_chosen.connect(s.select)  # shown like a grid tile: image, attention, history

    def _set_workspace_visible(self, on: bool) -> None:
        self.stack.setCurrentIndex(1 if on else 0)
        for d in self.findChildren(QDockWidget):
            d.setVisible(on)

    # -- what one panel asks of another

    def predict_and_compare(self, new_id: int, base_id: int | None) -> None:
        """After a fine-tune: predict with the new version, then show it against its base."""
        base = base_id if base_id is not None else self.state.model_version_id

        def compare() -> None:
            if base is not None and base != new_id:
                self.versions_panel.compare(base, new_id)
            self.versions_dock.raise_()

        self.controller.start_prediction(new_id, on_done=compare)

    def _on_confusion_cell(self, label: str, predicted: str) -> None:
        """Show the images of one confusion-matrix cell, with the predictions of the version it belongs to."""
        split = self.versions_panel.metrics_split
        self.browser.show_confusion_cell(label, predicted, None if split == "all" else split)
        chosen = self.versions_panel.selected_id
        if chosen is not None and chosen != self.state.model_version_id:
            self.controller.browse_version(chosen)

    def _on_label_conflict(self, e: LabelConflict) -> None:
        self.browser.image_model.refresh()
        self.conflict_box = conflict_box(self, e)

    def _on_imported(self, db: str, report: ImportReport) -> None:
        from app.widgets.qt_import_summary import import_summary_box, needs_summary

        if needs_summary(report):  # every file that did not come in, with the reason
            self.import_summary = import_summary_box(self, report, db)
            self.import_summary.show()

    def _on_project_changed(self) -> None:
        self.setWindowTitle(f"Inspector — {self.state.location.name} — {self.state.user}")
        self._set_workspace_visible(True)
        self._restore_layout()

    # -- persistence and shutdown

    def _restore_layout(self) -> None:
        if self._layout_restored:
            return
        self._layout_restored = True
        geometry, state, split = self.settings.window_state() if self.restore_layout else (None, None, None)
        before = self.size()
        if isinstance(geometry, QByteArray) and self.restoreGeometry(geometry):
            if self.width() < MIN_WINDOW[0] or self.height() < MIN_WINDOW[1]:
                # A window once shrunk comes back no smaller than it opens now.
                self.resize(max(self.width(), before.width()), max(self.height(), before.height()))
        if isinstance(state, QByteArray) and self.restoreState(state):
            if isinstance(split, QByteArray):
                self.center_split.restoreState(split)
            QTimer.singleShot(0, self._check_layout)  # once the restored sizes are applied
            return
        QTimer.singleShot(0, self._default_layout)

    def layout_problem(self) -> str | None:
        """Why the current layout is worse than the default one (None: it is usable)."""
        if not self.workspace_built:
            return None
        if self.image_pane.width() < MIN_IMAGE_WIDTH or self.image_pane.height() < MIN_IMAGE_HEIGHT:
            return f"image pane {self.image_pane.width()}x{self.image_pane.height()} px"
        if self.browser.view.width() < self.browser.grid.sizeHint().width() // 2:
            return f"image grid {self.browser.view.width()} px wide"
        if self.attention_dock.isVisible() and self.attention_dock.width() < MIN_ATTENTION_WIDTH:
            return f"attention panel {self.attention_dock.width()} px wide"
        return None

    def _check_layout(self) -> None:
        """A saved layout (another screen, a window once shrunk) is kept only if it is usable."""
        problem = self.layout_problem()
        if problem is not None:
            log.info("saved layout not usable here (%s): default layout", problem)
            self.reset_layout()

    def reset_layout(self) -> None:
        """View ▸ Reset layout: every panel back where a first start puts it."""
        bottom = (self.versions_dock, self.jobs_dock, self.review_dock)
        for dock in (self.filter_dock, self.attention_dock, self.history_dock, *bottom):
            dock.setFloating(False)
            dock.show()
        self.addDockWidget(Qt.DockWidgetArea.LeftDockWidgetArea, self.filter_dock)
        self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, self.attention_dock)
        self.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, self.history_dock)
        for dock in bottom:
            self.tabifyDockWidget(self.history_dock, dock)
        self._default_layout()

    def _default_layout(self) -> None:
        self.resizeDocks([self.filter_dock, self.attention_dock], [230, 520], Qt.Orientation.Horizontal)
        self.resizeDocks([self.history_dock], [250], Qt.Orientation.Vertical)
        self.history_dock.raise_()
        grid = self.browser.grid.sizeHint().width()
        total = sum(self.center_split.sizes())
        self.center_split.setSizes([grid, max(total - grid, 300)])

    def closeEvent(self, ev) -> None:
        if self.stack.currentIndex() == 1 and self.restore_layout:
            self.settings.save_window_state(self.saveGeometry(), self.saveState(), self.center_split.saveState())
        self.settings.sync()
        self.shutdown()
        super().closeEvent(ev)

    def shutdown(self) -> None:
        """Cancel every task and wait for the threads (a closed window leaves nothing running)."""
        for t in self.findChildren(QTimer):
            t.stop()
        self.workers.shutdown()
        self.state.close()

    def is_idle(self) -> bool:
        busy = self.workspace_built and self.browser.busy
        return not self.workers.active and not busy
