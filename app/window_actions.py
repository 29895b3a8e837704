"""The main window's menus, keyboard shortcuts, file dialogs and the grid's context menu.

Labelling is keyboard-first: digits 1-9 give the selection (or the current image) that class,
J/K or the arrows step through the filtered images, F fits the image, Ctrl+Z / Ctrl+Shift+Z undo
and redo. Every action goes to a controller or a panel; nothing here touches the database.
"""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Callable

from PySide6.QtCore import QObject, QPoint, Qt
from PySide6.QtGui import QAction, QKeySequence, QShortcut
from PySide6.QtWidgets import QFileDialog, QInputDialog, QMenu, QMessageBox

if TYPE_CHECKING:
    from app.jobs.qt_finetune_dialog import QtFinetuneDialog
    from app.qt_main_window import QtMainWindow

NAVIGATION = (("J", 1), ("Right", 1), ("K", -1), ("Left", -1))
SHORTCUT_SHEET = """<table cellpadding="3">
<tr><td><b>1</b> … <b>9</b></td><td>label the selection (or the current image) with that class</td></tr>
<tr><td><b>J</b> / <b>→</b>, <b>K</b> / <b>←</b></td><td>next / previous image in the filtered order (in the Review list while it has the focus)</td></tr>
<tr><td><b>Ctrl+Z</b>, <b>Ctrl+Shift+Z</b></td><td>undo, redo a label change (the status bar names it)</td></tr>
<tr><td><b>F</b></td><td>fit the image; wheel zooms, drag pans</td></tr>
<tr><td>click on the image</td><td>where that spot looks (the overlay shows its layer's map)</td></tr>
<tr><td><b>Ctrl+T</b></td><td>fine-tune on the corrected labels</td></tr>
<tr><td><b>Ctrl+E</b></td><td>export the labels as CSV</td></tr>
<tr><td><b>Ctrl+O</b>, <b>Ctrl+Shift+O</b></td><td>open a project, open a dataset folder</td></tr>
<tr><td><b>F1</b></td><td>this sheet</td></tr>
</table>"""


class WindowActions(QObject):
    def __init__(self, win: QtMainWindow):
        super().__init__(win)
        self._win = win
        self.grid_menu: QMenu | None = None
        controller, labeling = win.controller, win.labeling
        m = win.menuBar().addMenu("&File")
        self._add(m, "Open &dataset folder…", self.open_dataset, QKeySequence("Ctrl+Shift+O"))
        self._add(m, "&Open project…", self.open_project, QKeySequence.StandardKey.Open)
        self._add(m, "Open project on a database &server…", self.open_server_project)
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
        self._add(d, "&Export labels as CSV…", self.export_labels_csv, QKeySequence("Ctrl+E"))
        self._add(d, "Export labels as an &ImageFolder tree…", self.export_labels_folder)
        d.addSeparator()
        self._add(d, "Make all &thumbnails", controller.make_thumbnails)
        self.view_menu = win.menuBar().addMenu("&View")
        self._add(self.view_menu, "&Reset layout", lambda: win.workspace_built and win.reset_layout())
        self.view_menu.addSeparator()
        h = win.menuBar().addMenu("&Help")
        self._add(h, "&Keyboard shortcuts", self.show_shortcuts, QKeySequence("F1"))
        self._add(h, "&About Inspector", self.show_about)
        for key, delta in NAVIGATION:
            QShortcut(QKeySequence(key), win, lambda d=delta: self.step(d))
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

    def step(self, delta: int) -> None:
        """J/K: through the review list while it has the focus, else through the grid."""
        win = self._win
        if not win.workspace_built:
            return
        if win.review_panel.has_focus():
            win.review_panel.step(delta)
        else:
            win.browser.grid.step(delta)

    def label_targets(self, name: str) -> None:
        win = self._win
        if win.review_panel.has_focus() and win.review_panel.current_tile is not None:
            win.labeling.assign([win.review_panel.current_tile], name)  # the image the review list shows
            return
        win.labeling.assign(win.browser.targets(), name)

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

    def refocus(self) -> None:
        """Back to the window and its grid after a dialog: the digit and J/K keys work at once again."""
        win = self._win
        win.activateWindow()
        if win.workspace_built:
            win.browser.grid.setFocus()

    def export_labels_csv(self) -> None:
        project = self._win.state.project
        if project is None:
            return
        default = str(self._win.state.location.sidecar(".labels.csv"))
        path, _ = QFileDialog.getSaveFileName(self._win, "Export labels as CSV", default, "CSV files (*.csv)")
        self.refocus()
        if path:
            self._export(project, csv=path)

    def export_labels_folder(self) -> None:
        project = self._win.state.project
        if project is None:
            return
        folder = QFileDialog.getExistingDirectory(self._win, "New or empty folder for the ImageFolder tree (symlinks)")
        self.refocus()
        if folder:
            self._export(project, imagefolder=folder)

    def _export(self, project, **where) -> None:
        from usecases.label_export import export_labels

        def done(r) -> None:
            parts = []
            if r.csv is not None:
                parts.append(f"{r.csv.written} images to {where['csv']}")
            if r.imagefolder is not None:
                t = r.imagefolder
                parts.append(f"{t.written} links in {where['imagefolder']} ({t.unlabeled} unlabeled and "
                             f"{t.unreadable} unreadable left out)")
            self._win.statusBar().showMessage("Exported " + "; ".join(parts), 15000)

        self._win.workers.start(lambda _c: export_labels(project, **where), name="Export labels", user_visible=True,
                                on_result=done)

    def show_shortcuts(self) -> QMessageBox:
        box = QMessageBox(QMessageBox.Icon.NoIcon, "Keyboard shortcuts", SHORTCUT_SHEET, parent=self._win)
        box.setTextFormat(Qt.TextFormat.RichText)
        box.finished.connect(lambda _r: self.refocus())
        box.open()
        self.shortcut_box = box
        return box

    def show_about(self) -> QMessageBox:
        from importlib.metadata import PackageNotFoundError, version

        from app.settings import settings_file

        try:
            v = version("inspector")
        except PackageNotFoundError:
            v = "(not installed)"
        where = self._win.state.location
        text = (f"<b>Inspector</b> {v}<br>Industrial visual inspection: predict, inspect attention, correct labels, "
                f"fine-tune.<br><br>Project: {where.display if where else '(none open)'}<br>Settings: {settings_file()}")
        box = QMessageBox(QMessageBox.Icon.Information, "About Inspector", text, parent=self._win)
        box.finished.connect(lambda _r: self.refocus())
        box.open()
        self.about_box = box
        return box

    def open_project(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self._win, "Open project", "",
                                              "Inspector projects (*.db *.sqlite);;All files (*)")
        self.refocus()
        if path:
            self._win.controller.open_project(path)

    def open_server_project(self) -> None:
        """A team's project on PostgreSQL: the URL without a password (the password comes from
        ~/.pgpass or PGPASSFILE, so it is never kept in the settings or the recent list)."""
        from PySide6.QtWidgets import QInputDialog

        from core.db_url import is_url

        last = self._win.settings.last_project or ""
        url, ok = QInputDialog.getText(self._win, "Open project on a database server",
                                       "PostgreSQL URL (postgresql://user@host:port/dbname);\n"
                                       "the password is read from ~/.pgpass:",
                                       text=last if is_url(last) else "postgresql://")
        self.refocus()
        if ok and url.strip() and url.strip() != "postgresql://":
            self._win.controller.open_project(url.strip())

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
        dialog = QtFinetuneDialog(s.project, s.model_versions, s.model_version_id, win, workers=win.workers)
        dialog.accepted.connect(lambda: win.jobs_panel.submit(dialog.request()))
        dialog.finished.connect(lambda _r: self.refocus())
        dialog.finished.connect(dialog.deleteLater)
        dialog.open()
        win.jobs_dock.raise_()
        return dialog

    def set_user(self) -> None:
        name, ok = QInputDialog.getText(self._win, "User name", "Your name in the label history:",
                                        text=self._win.settings.user)
        self.refocus()
        if ok and name.strip():
            self._win.controller.set_user(name.strip())

    def _add(self, menu: QMenu, text: str, slot: Callable[[], object], shortcut: QKeySequence | None = None) -> QAction:
        a = QAction(text, self._win)
        if shortcut is not None:
            a.setShortcut(shortcut)
        a.triggered.connect(lambda _=False: slot())
        menu.addAction(a)
        return a
