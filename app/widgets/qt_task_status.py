"""Status-bar widget: the running long task (progress bar + cancel) and the last error.

Every background error arrives here through `Workers.failed`; the label keeps it until the user
clicks it (which lists all errors of the session), so no error vanishes.
"""
from __future__ import annotations

import time

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QHBoxLayout, QLabel, QMessageBox, QProgressBar, QPushButton, QWidget

from app.workers import Worker, Workers


class QtTaskStatus(QWidget):
    def __init__(self, workers: Workers, parent: QWidget | None = None):
        super().__init__(parent)
        self._workers = workers
        self._tasks: list[Worker] = []
        self.errors: list[tuple[str, str, str]] = []  # time, task, message

        self.label = QLabel()
        self.bar = QProgressBar()
        self.bar.setFixedWidth(180)
        self.bar.setTextVisible(True)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setToolTip("Stop the running task (it finishes its current step first)")
        self.error_label = QPushButton()  # a flat button: the last error, click for all of them
        self.error_label.setFlat(True)
        self.error_label.setStyleSheet("color: #d9534f; font-weight: bold; text-align: left; border: none;")
        self.error_label.setCursor(Qt.CursorShape.PointingHandCursor)
        self.error_label.clicked.connect(self._on_error_clicked)

        lay = QHBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.error_label)
        lay.addWidget(self.label)
        lay.addWidget(self.bar)
        lay.addWidget(self.cancel_button)
        self.cancel_button.clicked.connect(self._on_cancel_clicked)
        workers.started.connect(self._on_task_started)
        workers.finished.connect(self._on_task_finished)
        workers.failed.connect(self._on_task_failed)
        self._refresh()

    @property
    def current(self) -> Worker | None:
        return self._tasks[-1] if self._tasks else None

    def _on_task_started(self, w: Worker) -> None:
        if not w.user_visible:
            return
        self._tasks.append(w)
        w.signals.progress.connect(lambda d, t, text, w=w: self._on_progress(w, d, t, text))
        w.signals.cancelled.connect(lambda w=w: self.window().statusBar().showMessage(f"{w.name}: cancelled", 8000))
        w.signals.errored.connect(lambda e, w=w: self._show_message(w.name, self.errors[-1][2] if self.errors else str(e)))
        self._refresh()

    def _on_task_finished(self, w: Worker) -> None:
        if w in self._tasks:
            self._tasks.remove(w)
            self._refresh()

    def _on_progress(self, w: Worker, done: int, total: int, text: str) -> None:
        if w is not self.current:
            return
        self.bar.setRange(0, max(total, 0))
        self.bar.setValue(min(done, total) if total > 0 else 0)
        self.label.setText(f"{w.name}: {text}" if text else w.name)

    def _on_task_failed(self, name: str, message: str) -> None:
        self.errors.append((time.strftime("%H:%M:%S"), name, message))
        self.error_label.setText(f"⚠ {name}: {message}" if len(message) < 90 else f"⚠ {name} failed (click)")
        self.error_label.setToolTip(message + "\n\nClick to see every error of this session.")
        self.error_label.show()

    def _show_message(self, name: str, message: str) -> None:
        """A long task the user started and waits for failed: say so where it cannot be missed."""
        box = QMessageBox(QMessageBox.Icon.Warning, f"{name} failed", message, QMessageBox.StandardButton.Ok, self)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.open()
        self.message_box = box

    def _on_cancel_clicked(self) -> None:
        if self.current:
            self.current.cancel()
            self.label.setText(f"{self.current.name}: cancelling…")

    def _on_error_clicked(self) -> None:
        if not self.errors:
            return
        text = "\n".join(f"{t}  {n}: {m}" for t, n, m in self.errors)
        box = QMessageBox(QMessageBox.Icon.Warning, "Errors", text, QMessageBox.StandardButton.Ok, self)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.open()
        self.error_label.setText("")
        self.error_label.hide()

    def _refresh(self) -> None:
        w = self.current
        self.bar.setVisible(w is not None)
        self.cancel_button.setVisible(w is not None)
        self.label.setVisible(w is not None)
        if w is not None:
            self.label.setText(w.name)
            self.bar.setRange(0, 0)  # busy until the first progress report
        self.error_label.setVisible(bool(self.error_label.text()))
