"""Bulk relabel of a multi-selection, a conflict with another inspector, and keyboard navigation."""
from __future__ import annotations

from PySide6.QtCore import QItemSelectionModel, Qt

from app.browser.filter_state import FilterState


def _labels(project_path):
    from core.store.project import open_project
    from core.store.queries import query_images

    with open_project(project_path) as p, p.session() as s:
        return {r.id: r.label for r in query_images(s, limit=1000)}


def test_bulk_relabel_and_undo_as_one(qtbot, window, project_path, idle):
    win = window
    win.browser.apply_filter(FilterState(labels=("good",)))
    qtbot.waitUntil(lambda: win.browser.image_model.rowCount() == 8 and not win.browser.image_model.querying, timeout=10000)
    sel = win.browser.grid.selectionModel()
    for row in range(3):
        sel.select(win.browser.image_model.index(row), QItemSelectionModel.SelectionFlag.Select)
    ids = [t.image_id for t in win.browser.grid.selected_tiles()]
    assert len(ids) == 3
    qtbot.keyClick(win.browser.grid, Qt.Key.Key_2)
    qtbot.waitUntil(lambda: all(_labels(project_path)[i] == "scratch" for i in ids), timeout=10000)
    idle(win)
    from core.store.labels import history
    from core.store.project import open_project

    with open_project(project_path) as p, p.session() as s:
        assert all(history(s, i)[-1].source == "bulk" and history(s, i)[-1].user == "tester" for i in ids)
    win.labeling.undo()
    qtbot.waitUntil(lambda: all(_labels(project_path)[i] == "good" for i in ids), timeout=10000)
    idle(win)


def test_conflict_shows_the_other_value(qtbot, window, project_path, idle):
    from core.store.labels import set_label
    from core.store.project import open_project

    win = window
    win.browser.grid.select_row(0)
    qtbot.waitUntil(lambda: win.inspection.detail is not None, timeout=10000)
    tile = win.browser.grid.current_tile()
    with open_project(project_path) as p, p.session() as s:  # another inspector, another process
        set_label(s, tile.image_id, "spot", user="alice")
    qtbot.keyClick(win.browser.grid, Qt.Key.Key_2)
    qtbot.waitUntil(lambda: getattr(win, "conflict_box", None) is not None, timeout=10000)
    text = win.conflict_box.text()
    assert "alice" in text and "spot" in text
    assert _labels(project_path)[tile.image_id] == "spot"  # nothing overwritten
    qtbot.waitUntil(lambda: any("label of" in m for _, _, m in win.task_status.errors), timeout=5000)
    win.conflict_box.close()
    idle(win)


def test_keyboard_navigation_follows_filter_order(qtbot, window, idle):
    win = window
    win.browser.grid.select_row(0)
    first = win.browser.grid.current_tile().image_id
    qtbot.keyClick(win.browser.grid, Qt.Key.Key_J)
    assert win.browser.grid.currentIndex().row() == 1
    qtbot.keyClick(win.browser.grid, Qt.Key.Key_K)
    assert win.browser.grid.current_tile().image_id == first
    qtbot.keyClick(win.browser.grid, Qt.Key.Key_Right)
    assert win.browser.grid.currentIndex().row() == 1
    idle(win)


def test_fast_key_presses_do_not_conflict_with_themselves(qtbot, window, project_path, idle):
    win = window
    win.browser.grid.select_row(0)
    tile = win.browser.grid.current_tile()
    for key in (Qt.Key.Key_2, Qt.Key.Key_3, Qt.Key.Key_1, Qt.Key.Key_2, Qt.Key.Key_1):  # faster than rows reload
        qtbot.keyClick(win.browser.grid, key)
    qtbot.waitUntil(lambda: win.is_idle(), timeout=15000)
    assert _labels(project_path)[tile.image_id] == "good"
    from core.store.labels import history
    from core.store.project import open_project

    with open_project(project_path) as p, p.session() as s:
        assert [e.new for e in history(s, tile.image_id)][1:] == ["scratch", "spot", "good", "scratch", "good"]
    assert not win.task_status.errors
    idle(win)


def test_next_image_is_decoded_ahead(qtbot, window, idle):
    win = window
    win.browser.grid.select_row(0)
    qtbot.waitUntil(lambda: win.inspection.detail is not None, timeout=10000)
    second = win.browser.image_model.tile(1)
    qtbot.waitUntil(lambda: second.image_id in win.inspection._details, timeout=10000)
    idle(win)
    qtbot.keyClick(win.browser.grid, Qt.Key.Key_J)
    assert win.inspection.detail is not None and win.inspection.detail.tile.image_id == second.image_id
    idle(win)


def test_context_menu_relabels_selection(qtbot, window, project_path, idle):
    win = window
    sel = win.browser.grid.selectionModel()
    for row in (0, 1):
        sel.select(win.browser.image_model.index(row), QItemSelectionModel.SelectionFlag.Select)
    ids = [t.image_id for t in win.browser.grid.selected_tiles()]
    win.window_actions.show_grid_menu(win.browser.grid.visualRect(win.browser.image_model.index(0)).center())
    actions = [a for a in win.window_actions.grid_menu.actions() if a.text().startswith("spot")]
    assert "2 selected images" in win.window_actions.grid_menu.actions()[0].text()
    actions[0].trigger()
    win.window_actions.grid_menu.close()
    qtbot.waitUntil(lambda: all(_labels(project_path)[i] == "spot" for i in ids), timeout=10000)
    idle(win)


def test_undo_names_the_image_and_history_follows_it(qtbot, window, project_path, idle):
    """Label an image, move to another, undo: the message names the first image and its label
    again, and History shows that image's events (the undo on top), not the selected one's."""
    win = window
    win.browser.grid.select_row(0)
    qtbot.waitUntil(lambda: win.inspection.detail is not None, timeout=10000)
    first = win.browser.grid.current_tile()
    old = first.label
    new_key = next(k for k, name in enumerate(win.state.class_names, 1) if name != old)
    qtbot.keyClick(win.browser.grid, getattr(Qt.Key, f"Key_{new_key}"))
    qtbot.waitUntil(lambda: _labels(project_path)[first.image_id] != old, timeout=10000)
    idle(win)
    win.browser.grid.select_row(5)
    qtbot.waitUntil(lambda: win.inspection.tile is not None and win.inspection.tile.image_id != first.image_id,
                    timeout=10000)
    idle(win)
    messages = []
    win.labeling.message.connect(messages.append)
    win.labeling.undo()
    qtbot.waitUntil(lambda: bool(messages), timeout=10000)
    idle(win)
    assert messages[-1] == f"Undone: {first.name} is {old} again"
    assert win.history.title.text().startswith(f"{first.name}: ")
    assert win.history.rows()[0][3] == "undo"
