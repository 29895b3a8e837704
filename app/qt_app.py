"""Start the GUI: one QApplication, the main window, and the `--screenshot` mode.

Nothing here imports torch: the window is on screen before any model is loaded.
"""
from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QTimer
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication

from app.project_controller import OPEN_TASKS
from app.settings import APPLICATION, ORGANIZATION

if TYPE_CHECKING:
    from app.qt_main_window import QtMainWindow


def get_app() -> QApplication:
    app = QApplication.instance()
    if app is None:
        app = QApplication(sys.argv[:1])
        app.setOrganizationName(ORGANIZATION)
        app.setApplicationName(APPLICATION)
        apply_dark_palette(app)
    return app


def apply_dark_palette(app: QApplication) -> None:
    """Dark UI: images and heat maps read better on a dark surround, as in every inspection tool."""
    app.setStyle("Fusion")
    p = QPalette()
    base, window, text = QColor("#1e1e1e"), QColor("#2d2d2d"), QColor("#e6e6e6")
    for role, c in (
        (QPalette.ColorRole.Window, window), (QPalette.ColorRole.WindowText, text),
        (QPalette.ColorRole.Base, base), (QPalette.ColorRole.AlternateBase, QColor("#262626")),
        (QPalette.ColorRole.Text, text), (QPalette.ColorRole.Button, QColor("#3a3a3a")),
        (QPalette.ColorRole.ButtonText, text), (QPalette.ColorRole.Highlight, QColor("#2f6fb0")),
        (QPalette.ColorRole.HighlightedText, QColor("#ffffff")), (QPalette.ColorRole.ToolTipBase, QColor("#3a3a3a")),
        (QPalette.ColorRole.ToolTipText, text), (QPalette.ColorRole.PlaceholderText, QColor("#888888")),
    ):
        p.setColor(role, c)
    p.setColor(QPalette.ColorGroup.Disabled, QPalette.ColorRole.ButtonText, QColor("#777777"))
    p.setColor(QPalette.ColorGroup.Disabled, QPalette.ColorRole.Text, QColor("#777777"))
    app.setPalette(p)
    # Fusion draws unchecked boxes in the Base colour: invisible on a dark window without a border.
    app.setStyleSheet(
        "QCheckBox::indicator { width: 13px; height: 13px; border: 1px solid #8a8a8a; border-radius: 2px;"
        " background: #1e1e1e; }"
        "QCheckBox::indicator:checked { background: #4c9be8; border-color: #4c9be8;"
        " image: url(none); }"
        "QCheckBox::indicator:disabled { border-color: #555555; }"
        "QDockWidget::title { padding: 3px; background: #333333; }"
    )


def run_gui(db: str | None = None, *, screenshot: str | None = None, demo_dir: str | None = None) -> int:
    app = get_app()
    from app.qt_main_window import QtMainWindow

    win = QtMainWindow(restore_layout=not screenshot)
    if screenshot:
        win.resize(1680, 1050)
    win.show()
    if screenshot:
        shooter = ScreenshotWhenIdle(win, screenshot)
        on_done = shooter.start
    else:
        on_done = None
    if screenshot:
        # A failed open or demo must not leave a headless run waiting forever.
        win.workers.failed.connect(lambda name, _msg: name in OPEN_TASKS and shooter.fail())
    if demo_dir:
        from app.cli.progress_line import ProgressLine

        win.controller.prepare_demo(demo_dir, on_done, terminal=ProgressLine())  # the terminal sees it too
    elif db:
        win.controller.open_project(db, on_done)
    elif win.settings.last_project and Path(win.settings.last_project).exists():
        win.controller.open_project(win.settings.last_project, on_done)
    elif screenshot:
        QTimer.singleShot(300, shooter.start)
    win.workers.failed.connect(lambda name, msg: screenshot and print(f"inspector: {name}: {msg}", file=sys.stderr))
    return app.exec()


class ScreenshotWhenIdle:
    """Waits until the first image and its attention are shown and no worker runs, then saves the
    window to a PNG and quits (`inspector gui --screenshot`)."""

    TIMEOUT_MS = 120_000

    def __init__(self, win: QtMainWindow, path: str):
        self.win, self.path = win, path
        self.timer = QTimer()
        self.timer.setInterval(100)
        self.timer.timeout.connect(self._on_tick)
        self.idle_ticks = 0
        self.waited = 0

    def start(self) -> None:
        if self.win.workspace_built:
            self.win.versions_dock.raise_()  # the overview: how good the model is, beside what it looks at
        self.timer.start()

    def fail(self) -> None:
        self.timer.stop()
        self.win.close()
        QApplication.instance().exit(1)

    def _on_tick(self) -> None:
        self.waited += self.timer.interval()
        w = self.win
        rows = w.browser.image_model.rowCount() if w.workspace_built else 0
        has_image = not w.state.is_open or rows == 0 or w.inspection.detail is not None
        wants_attention = w.state.model_version is not None and rows > 0
        ready = has_image and (not wants_attention or w.inspection.result is not None)
        self.idle_ticks = self.idle_ticks + 1 if (ready and w.is_idle()) else 0
        if self.idle_ticks >= 3 or self.waited > self.TIMEOUT_MS:
            self.timer.stop()
            QApplication.processEvents()
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
            ok = w.grab().save(self.path)
            print(f"screenshot: {self.path}" if ok else f"inspector: could not write {self.path}",
                  file=sys.stdout if ok else sys.stderr)
            w.close()
            QApplication.instance().exit(0 if ok else 1)
