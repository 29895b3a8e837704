"""Browse, filter, label with the keyboard, undo, history: against a real project file."""
from __future__ import annotations

from PySide6.QtCore import Qt

from app.browser.filter_state import FilterState


def _labels(project_path):
    from core.store.project import open_project
    from core.store.queries import query_images

    with open_project(project_path) as p, p.session() as s:
        return {r.id: r.label for r in query_images(s, limit=1000)}


def _history(project_path, image_id):
    from core.store.labels import history
    from core.store.project import open_project

    with open_project(project_path) as p, p.session() as s:
        return history(s, image_id)


def test_open_filter_label_undo_history(qtbot, window, project_path, idle):
    win = window
    assert win.browser.image_model.rowCount() == 24
    win.browser.apply_filter(FilterState(labels=("scratch",)))
    qtbot.waitUntil(lambda: win.browser.image_model.rowCount() == 8 and not win.browser.image_model.querying, timeout=10000)
    tiles = win.browser.image_model.loaded_tiles()
    assert {t.label for t in tiles} == {"scratch"}

    win.browser.grid.select_row(0)
    qtbot.waitUntil(lambda: win.inspection.detail is not None, timeout=10000)
    tile = win.browser.grid.current_tile()
    assert tile.label == "scratch"

    win.browser.grid.setFocus()
    qtbot.keyClick(win.browser.grid, Qt.Key.Key_3)  # "spot"
    qtbot.waitUntil(lambda: _labels(project_path)[tile.image_id] == "spot", timeout=10000)
    # the tile updates in place and stays under the cursor, although it no longer matches the filter
    qtbot.waitUntil(lambda: win.browser.grid.current_tile().label == "spot", timeout=10000)
    assert win.browser.grid.current_tile().image_id == tile.image_id and win.browser.image_model.rowCount() == 8
    assert "   spot → predicted" in win.image_pane.title.full_text()
    events = _history(project_path, tile.image_id)
    assert events[-1].user == "tester" and events[-1].old == "scratch" and events[-1].new == "spot"
    assert events[-1].source == "manual"

    qtbot.keyClick(win.browser.grid, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: _labels(project_path)[tile.image_id] == "scratch", timeout=10000)
    idle(win)
    # history panel: import, manual, undo (newest first)
    qtbot.waitUntil(lambda: len(win.history.rows()) == 3, timeout=10000)
    rows = win.history.rows()
    assert rows[0][1] == "tester" and rows[0][2] == "spot → scratch" and rows[0][3] == "undo"
    assert rows[1][1] == "tester" and rows[1][2] == "scratch → spot" and rows[1][3] == "manual"

    qtbot.keyClick(win.browser.grid, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    qtbot.waitUntil(lambda: _labels(project_path)[tile.image_id] == "spot", timeout=10000)
    idle(win)
