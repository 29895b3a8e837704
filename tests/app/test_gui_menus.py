"""Help and Data menus: the shortcut sheet and About name what they must, labels export from the
GUI, and after a dialog closes the keyboard goes back to the grid."""
from __future__ import annotations

import csv

from PySide6.QtCore import Qt


def _menu_texts(win, title: str) -> list[str]:
    menu = next(a.menu() for a in win.menuBar().actions() if a.text().replace("&", "") == title)
    return [a.text().replace("&", "") for a in menu.actions() if a.text()]


def test_help_menu_has_the_shortcut_sheet_and_about(qtbot, window, idle):
    win = window
    assert _menu_texts(win, "Help") == ["Keyboard shortcuts", "About Inspector"]
    box = win.window_actions.show_shortcuts()
    qtbot.waitUntil(box.isVisible, timeout=5000)
    for key in ("Ctrl+Z", "J", "F1", "Ctrl+T"):
        assert key in box.text()
    box.done(0)
    about = win.window_actions.show_about()
    assert str(win.state.path) in about.text() and "Settings:" in about.text()
    about.done(0)
    qtbot.waitUntil(lambda: win.browser.grid.hasFocus(), timeout=5000)  # keys work again at once
    idle(win)


def test_data_menu_exports_the_labels(qtbot, window, idle, tmp_path):
    win = window
    assert "Export labels as CSV…" in _menu_texts(win, "Data")
    out = tmp_path / "labels.csv"
    win.window_actions._export(win.state.project, csv=str(out))
    qtbot.waitUntil(lambda: "Exported 24 images" in win.statusBar().currentMessage(), timeout=10000)
    idle(win)
    with open(out, newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 24 and {"path", "label", "split"} <= set(rows[0])


def test_keys_work_after_the_fine_tune_dialog_closes(qtbot, window, idle):
    win = window
    win.browser.grid.select_row(0)
    qtbot.waitUntil(lambda: win.inspection.detail is not None, timeout=10000)
    dialog = win.window_actions.open_finetune_dialog()
    qtbot.waitUntil(dialog.isVisible, timeout=5000)
    dialog.reject()
    qtbot.waitUntil(lambda: win.browser.grid.hasFocus(), timeout=5000)
    before = win.browser.grid.currentIndex().row()
    qtbot.keyClick(win.browser.grid, Qt.Key.Key_J)
    qtbot.waitUntil(lambda: win.browser.grid.currentIndex().row() == before + 1, timeout=5000)
    idle(win)
