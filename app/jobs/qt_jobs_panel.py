"""Fine-tuning jobs: state, live loss / accuracy curves, log tail, cancel, resume (a cancelled or
failed job that saved its state), and on success the offer to predict with the new model and
compare it with its base.

Polling: a QTimer starts one worker at a time (never on the GUI thread, never two in flight);
it only runs while some job is unfinished or the panel was just changed.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import pyqtgraph as pg
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QColor, QFont
from PySide6.QtWidgets import (
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QSplitter,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.jobs.qt_finetune_dialog import FinetuneRequest
from app.project_state import ProjectState
from app.widgets.tables import current_id
from app.workers import Workers
from usecases.finetune_jobs import cancel_job, resume_job, submit_finetune
from usecases.job_monitor import JobView, job_views

if TYPE_CHECKING:
    from core.store.records import JobRecord

POLL_MS = 2000
STATE_COLORS = {"queued": "#aaaaaa", "running": "#4c9be8", "succeeded": "#5cb85c", "failed": "#d9534f",
                "cancelled": "#f0ad4e"}


class QtJobsPanel(QWidget):
    finetune_requested = Signal()
    predict_and_compare = Signal(int, object)  # new model id, base model id (or None)

    def __init__(self, state: ProjectState, workers: Workers, parent: QWidget | None = None):
        super().__init__(parent)
        self._state = state
        self._workers = workers
        self.views: list[JobView] = []
        self._polling = False
        self._poll_failed = False
        self._offered: set[int] = set()
        self._project = None  # the project the list is of
        self.timer = QTimer(self)
        self.timer.setInterval(POLL_MS)
        self.timer.timeout.connect(self.poll)

        self.tree = QTreeWidget()
        self.tree.setHeaderLabels(["job", "state", "profile", "progress", "created"])
        self.tree.setRootIsDecorated(False)
        self.tree.header().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.tree.header().setStretchLastSection(True)
        self.new_button = QPushButton("Fine-tune…")
        self.cancel_button = QPushButton("Cancel job")
        self.resume_button = QPushButton("Resume job")
        self.resume_button.setToolTip("Continue a cancelled or failed job from the state it saved")
        self.offer = QLabel("")
        self.offer.setWordWrap(True)
        self.offer_button = QPushButton("Predict and compare")
        self.offer_button.hide()
        self.plot = pg.PlotWidget(background="#1e1e1e", title="loss (per step) · train and validation accuracy (per epoch)")
        self.plot.setMinimumHeight(170)  # room for the three curves and their legend
        self.plot.showGrid(x=True, y=True, alpha=0.2)
        self.plot.getAxis("bottom").setLabel("step")
        self.plot.addLegend(offset=(-10, 10))
        self.loss_curve = self.plot.plot([], [], pen=pg.mkPen("#4c9be8", width=2), name="loss")
        self.acc_curve = self.plot.plot([], [], pen=pg.mkPen("#5cb85c", width=2), symbol="o", symbolSize=6,
                                        symbolBrush="#5cb85c", name="val acc")
        self.train_acc_curve = self.plot.plot([], [], pen=pg.mkPen("#f0ad4e", width=2, style=Qt.PenStyle.DashLine),
                                              symbol="t", symbolSize=6, symbolBrush="#f0ad4e", name="train acc")
        self.log = QPlainTextEdit()
        self.log.setReadOnly(True)
        self.log.setFont(QFont("monospace"))
        self.log.setMaximumBlockCount(500)
        self.log.setPlaceholderText("The job's output (train.log) appears here")

        left = QWidget()
        ll = QVBoxLayout(left)
        ll.setContentsMargins(0, 0, 0, 0)
        ll.addWidget(self.tree, 1)
        row = QHBoxLayout()
        row.addWidget(self.new_button)
        row.addWidget(self.cancel_button)
        row.addWidget(self.resume_button)
        row.addStretch(1)
        ll.addLayout(row)
        ll.addWidget(self.offer)
        ll.addWidget(self.offer_button)
        right = QSplitter(Qt.Orientation.Vertical)
        right.addWidget(self.plot)
        right.addWidget(self.log)
        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(left)
        split.addWidget(right)
        split.setStretchFactor(1, 2)
        split.setSizes([380, 700])
        lay = QVBoxLayout(self)
        lay.setContentsMargins(2, 2, 2, 2)
        lay.addWidget(split)

        self.new_button.clicked.connect(self.finetune_requested)
        self.cancel_button.clicked.connect(self._on_cancel_clicked)
        self.resume_button.clicked.connect(self._on_resume_clicked)
        self.tree.currentItemChanged.connect(lambda *_: self._show_selected(poll=True))
        self.offer_button.clicked.connect(self._on_offer_clicked)
        self._set_offer(None)
        state.project_changed.connect(self._on_project_changed)

    @property
    def selected_id(self) -> int | None:
        return current_id(self.tree)

    def poll(self) -> None:
        project, detail = self._state.project, self.selected_id
        if project is None or self._polling:
            return
        self._polling = True
        self._poll_failed = False
        self._workers.start(lambda _c: job_views(project, detail), name="Poll jobs",
                            on_result=self._on_views, on_error=self._on_poll_error, on_done=self._on_poll_done)

    def submit(self, req: FinetuneRequest) -> None:
        project = self._state.project

        self._workers.start(lambda _c: submit_finetune(project, base=req.base, profile=req.chosen_profile(),
                                                       epochs=req.epochs, lr=req.lr, batch_size=req.batch_size,
                                                       from_scratch=req.from_scratch),
                            name="Submit job", user_visible=True, on_done=self.poll)

    def stop(self) -> None:
        self.timer.stop()

    # -- handlers

    def _on_project_changed(self) -> None:
        if self._project is not self._state.project:  # the user name changed: nothing to redo here
            self._project = self._state.project
            self._offered.clear()
            self.poll()

    def _on_poll_error(self, _e) -> None:
        self._poll_failed = True  # e.g. the project was busy: try again at the next tick

    def _on_poll_done(self) -> None:
        self._polling = False
        if self._poll_failed or any(not v.job.finished for v in self.views):
            if not self.timer.isActive():
                self.timer.start()
        else:
            self.timer.stop()

    def _on_views(self, views: list[JobView]) -> None:
        keep = self.selected_id
        self.views = views
        self.tree.blockSignals(True)
        self.tree.clear()
        for v in reversed(views):
            j = v.job
            note = j.error if j.finished else j.detail
            progress = "  ".join(t for t in (v.progress_line, note or "") if t)
            it = QTreeWidgetItem([str(j.id), j.state, j.profile or j.backend, progress,
                                  j.created.strftime("%m-%d %H:%M")])
            it.setForeground(1, QColor(STATE_COLORS.get(j.state, "#dddddd")))
            it.setData(0, Qt.ItemDataRole.UserRole, j.id)
            self.tree.addTopLevelItem(it)
            if j.id == keep or (keep is None and self.tree.currentItem() is None):
                self.tree.setCurrentItem(it)
        self.tree.blockSignals(False)
        self._show_selected(poll=False)
        for v in views:
            j = v.job
            if j.state == "succeeded" and j.result_model_id is not None and j.id not in self._offered:
                self._offered.add(j.id)
                self._set_offer(j)

    def _show_selected(self, poll: bool) -> None:
        view = next((v for v in self.views if v.job.id == self.selected_id), None)
        self.cancel_button.setEnabled(view is not None and not view.job.finished)
        self.resume_button.setEnabled(view is not None and view.resumable_from is not None)
        self.resume_button.setToolTip("Continue a cancelled or failed job from the state it saved" if view is None
                                      or view.resumable_from is None else f"Continue from {view.resumable_from}")
        if view is None:
            for curve in (self.loss_curve, self.acc_curve, self.train_acc_curve):
                curve.setData([], [])
            self.log.setPlainText("")
            return
        if poll and not view.steps and view.job.workdir:
            self.poll()  # curves are read for the selected job only
        self.loss_curve.setData([s for s, _ in view.steps], [l for _, l in view.steps])
        if view.epochs and view.steps:
            # One accuracy point at the end of each epoch, on the step axis.
            per_epoch = max(view.steps[-1][0], 1) / max(len(view.epochs), 1)
            for curve, k in ((self.acc_curve, 2), (self.train_acc_curve, 3)):
                pts = [((r[0] + 1) * per_epoch, r[k]) for r in view.epochs if r[k] is not None]
                curve.setData([x for x, _ in pts], [a for _, a in pts])
        else:
            self.acc_curve.setData([], [])
            self.train_acc_curve.setData([], [])
        text = (view.job.log_tail or "") + (f"\n\nerror: {view.job.error}" if view.job.error else "")
        if text != self.log.toPlainText():
            self.log.setPlainText(text)
            self.log.verticalScrollBar().setValue(self.log.verticalScrollBar().maximum())

    def _on_cancel_clicked(self) -> None:
        job_id, project = self.selected_id, self._state.project
        if job_id is not None and project is not None:
            self._workers.start(lambda _c: cancel_job(project, job_id), name="Cancel job", on_done=self.poll)

    def _on_resume_clicked(self) -> None:
        job_id, project = self.selected_id, self._state.project
        if job_id is not None and project is not None:
            self.resume_button.setEnabled(False)  # one click, one submission
            self._workers.start(lambda _c: resume_job(project, job_id), name="Resume job", user_visible=True,
                                on_done=self.poll)

    def _set_offer(self, job: JobRecord | None) -> None:
        self._offer_job = job
        self.offer_button.setVisible(job is not None)
        self.offer.setText("" if job is None else
                           f"Job {job.id} finished: model {job.result_model_id} is registered. "
                           "Predict the project with it and compare with its base?")

    def _on_offer_clicked(self) -> None:
        job = self._offer_job
        if job is not None:
            self.predict_and_compare.emit(job.result_model_id, job.base_model_id)
        self._set_offer(None)
