"""The Review panel: the browsed model's ranked list, walked with J/K, labelled with the digits;
a label scan runs as a task and fills the same list."""
from __future__ import annotations

import pytest
from PySide6.QtCore import Qt


def test_review_list_walks_with_j_k_and_labels_the_shown_image(qtbot, window, idle, project_path):
    from core.store.project import open_project
    from core.store.queries import get_image

    win = window
    panel = win.review_panel
    win.review_dock.raise_()
    done = []
    panel.rank_with_model().signals.finished.connect(lambda: done.append(1))
    qtbot.waitUntil(lambda: bool(done) and panel.tree.topLevelItemCount() > 2, timeout=20000)
    assert panel.items[0].rank == 1 and "suspected label errors first" in panel.summary.text()
    panel.tree.setFocus()
    panel.tree.setCurrentItem(panel.tree.topLevelItem(0))
    qtbot.waitUntil(lambda: win.inspection.tile is not None and win.inspection.tile.image_id == panel.items[0].image_id,
                    timeout=10000)
    qtbot.waitUntil(panel.has_focus, timeout=5000)
    qtbot.keyClick(panel.tree, Qt.Key.Key_J)
    qtbot.waitUntil(lambda: win.inspection.tile.image_id == panel.items[1].image_id, timeout=10000)
    idle(win)
    second = panel.items[1]
    new = next(i for i, n in enumerate(win.state.class_names) if n != second.label)
    qtbot.keyClick(panel.tree, getattr(Qt.Key, f"Key_{new + 1}"))
    qtbot.waitUntil(lambda: panel.tree.topLevelItem(1).text(3) == win.state.class_names[new], timeout=10000)
    idle(win)
    with open_project(project_path) as p, p.session() as s:
        assert get_image(s, second.image_id).label == win.state.class_names[new]
    # undo: the list shows the old label again, and the shown image can be labelled at once (its version followed)
    win.labeling.undo()
    qtbot.waitUntil(lambda: panel.tree.topLevelItem(1).text(3) == (second.label or "(unlabeled)"), timeout=10000)
    idle(win)
    qtbot.keyClick(panel.tree, getattr(Qt.Key, f"Key_{new + 1}"))
    qtbot.waitUntil(lambda: panel.tree.topLevelItem(1).text(3) == win.state.class_names[new], timeout=10000)
    idle(win)
    assert not getattr(win, "conflict_box", None)
    qtbot.keyClick(panel.tree, Qt.Key.Key_K)
    qtbot.waitUntil(lambda: win.inspection.tile.image_id == panel.items[0].image_id, timeout=10000)
    idle(win)


@pytest.mark.slow
def test_label_scan_runs_as_a_task_and_fills_the_list(qtbot, window, idle):
    win = window
    panel = win.review_panel
    worker = panel.label_scan()
    done = []
    worker.signals.finished.connect(lambda: done.append(1))
    qtbot.waitUntil(lambda: bool(done), timeout=600000)
    idle(win)
    assert panel.tree.topLevelItemCount() > 0 and "a label scan" in panel.summary.text()
    assert not win.task_status.errors
