"""The main window's menus, keyboard shortcuts, file dialogs and the grid's context menu.

Labelling is keyboard-first: digits 1-9 give the selection (or the current image) that class,
J/K or the arrows step through the filtered images, F fits the image, Ctrl+Z / Ctrl+Shift+Z undo
and redo. Every action goes to a controller or a panel; nothing here touches the database.
"""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Callable

from PySide6.QtCore import QObject, QPoint
from PySide6.QtGui import QAction, QKeySequence, QShortcut
from PySide6.QtWidgets import QFileDialog, QInputDialog, QMenu

if TYPE_CHECKING:
    from app.jobs.qt_finetune_dialog import QtFinetuneDialog
    from app.qt_main_window import QtMainWindow

NAVIGATION = (("J", 1), ("Right", 1), ("K", -1), ("Left", -1))


class WindowActions(QObject):
    def __init__(self, win: QtMainWindow):
        super().__init__(win)
        self._win = win
        self.grid_menu: QMenu | None = None
        controller, labeling = win.controller, win.labeling
        m = win.menuBar().addMenu("&File")
        self._add(m, "Open &dataset folder…", self.open_dataset, QKeySequence("Ctrl+Shift+O"))
        self._add(m, "&Open project…", self.open_project, QKeySequence.StandardKey.Open)
        self._add(m, "Create &demo project…", self.create_demo)
        m.addSeparator()
        self._add(m, "Set &user name…", self.set_user)
        m.addSeparator()
        self._add(m, "&Quit", win.close, QKeySequence.StandardKey.Quit)
        e = win.menuBar().addMenu("&Edit")
        self.undo_action = self._add(e, "&Undo label change", labeling.undo, QKeySequence("Ctrl+Z"))
        self.redo_action = self._add(e, "&Redo label change", labeling.redo, QKeySequence("Ctrl+Shift+Z"))
        t = win.menuBar().addMenu("&Model")
        self._add(t, "&Fine-tune…", self.open_finetune_dialog, QKeySequence("Ctrl+T"))
        self._add(t, "&Predict with the current model", controller.predict_current)
        d = win.menuBar().addMenu("&Data")
        self._add(d, "Make all &thumbnails", controller.make_thumbnails)
        self.view_menu = win.menuBar().addMenu("&View")
        for key, delta in NAVIGATION:
            QShortcut(QKeySequence(key), win, lambda d=delta: win.workspace_built and win.browser.grid.step(d))
        for i in range(9):
            QShortcut(QKeySequence(str(i + 1)), win, lambda i=i: self.label_with_class(i))
        QShortcut(QKeySequence("F"), win, lambda: win.workspace_built and win.image_pane.view.fit())
        win.welcome.open_dataset.connect(self.open_dataset)
        win.welcome.open_project.connect(self.open_project)
        win.welcome.create_demo.connect(self.create_demo)
        win.welcome.open_recent.connect(controller.open_project)

    def label_with_class(self, i: int) -> None:
        """Digit i + 1: the i-th class of the project for the selection."""
        names = self._win.state.class_names
        if self._win.workspace_built and i < len(names):
            self.label_targets(names[i])

    def label_targets(self, name: str) -> None:
        self._win.labeling.assign(self._win.browser.targets(), name)

    def show_grid_menu(self, pos: QPoint) -> None:
        grid, names = self._win.browser.grid, self._win.state.class_names
        if not names:
            return
        n = len(grid.selected_tiles())
        menu = QMenu(self._win)
        menu.addSection(f"Label {n} selected image{'s' if n != 1 else ''} as")
        for i, name in enumerate(names):
            a = menu.addAction(f"{name}\t{i + 1}" if i < 9 else name)
            a.triggered.connect(lambda _=False, name=name: self.label_targets(name))
        menu.popup(grid.viewport().mapToGlobal(pos))
        self.grid_menu = menu

    # -- dialogs

    def open_project(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self._win, "Open project", "",
                                              "Inspector projects (*.db *.sqlite);;All files (*)")
        if path:
            self._win.controller.open_project(path)

    def open_dataset(self) -> None:
        folder = QFileDialog.getExistingDirectory(self._win, "Open a dataset folder")
        if not folder:
            return
        default = str(Path(folder).with_suffix(".inspector.db"))
        db, _ = QFileDialog.getSaveFileName(self._win, "Save the project as", default, "Inspector projects (*.db)")
        if db:
            self._win.controller.import_dataset(folder, db)

    def create_demo(self) -> None:
        folder = QFileDialog.getExistingDirectory(self._win, "Folder for the demo project")
        if folder:
            self._win.controller.prepare_demo(folder)

    def open_finetune_dialog(self) -> QtFinetuneDialog | None:
        from app.jobs.qt_finetune_dialog import QtFinetuneDialog

        win, s = self._win, self._win.state
        if s.project is None:
            return None
        dialog = QtFinetuneDialog(s.project, s.model_versions, s.model_version_id, win)
        dialog.accepted.connect(lambda: win.jobs_panel.submit(dialog.request()))
        dialog.finished.connect(dialog.deleteLater)
        dialog.open()
        win.jobs_dock.raise_()
        return dialog

    def set_user(self) -> None:
        name, ok = QInputDialog.getText(self._win, "User name", "Your name in the label history:",
                                        text=self._win.settings.user)
        if ok and name.strip():
            self._win.controller.set_user(name.strip())

    def _add(self, menu: QMenu, text: str, slot: Callable[[], object], shortcut: QKeySequence | None = None) -> QAction:
        a = QAction(text, self._win)
        if shortcut is not None:
            a.setShortcut(shortcut)
        a.triggered.connect(lambda _=False: slot())
        menu.addAction(a)
        return a
