"""Models panel: lineage, metrics on current labels, a confusion-matrix cell filters the browser."""
from __future__ import annotations

import numpy as np


def test_metrics_count_the_test_split_by_default_and_any_split_on_request(qtbot, window, idle):
    win = window
    panel = win.versions_panel
    win.versions_dock.raise_()
    qtbot.waitUntil(lambda: panel.metrics.table.rowCount() == 3, timeout=20000)
    assert panel.split.currentData() == "test"
    assert "on the test split" in panel.metrics.summary.text()
    assert panel.metrics.confusion.matrix.sum() == 6  # 2 test images per class
    panel.split.setCurrentIndex(panel.split.findData("train"))
    qtbot.waitUntil(lambda: "on the train split" in panel.metrics.summary.text(), timeout=20000)
    assert panel.metrics.confusion.matrix.sum() == 18
    panel.split.setCurrentIndex(panel.split.findData("val"))  # none in this project: says so, counts all
    qtbot.waitUntil(lambda: "no val split in this project" in panel.metrics.summary.text(), timeout=20000)
    assert panel.metrics.confusion.matrix.sum() == 24
    idle(win)


def test_confusion_cell_filters_browser(qtbot, window, idle):
    win = window
    panel = win.versions_panel
    win.versions_dock.raise_()  # metrics are computed only while the panel is visible
    qtbot.waitUntil(lambda: panel.metrics.table.rowCount() == 3, timeout=20000)
    panel.split.setCurrentIndex(panel.split.findData("all"))
    qtbot.waitUntil(lambda: "on all labelled images" in panel.metrics.summary.text(), timeout=20000)
    assert "accuracy" in panel.metrics.summary.text()
    m = panel.metrics.confusion.matrix
    assert m.sum() == 24
    r, c = np.unravel_index(np.argmax(m), m.shape)
    names = panel.metrics.confusion.names
    panel.metrics.confusion.cell_clicked.emit(names[r], names[c])
    qtbot.waitUntil(lambda: not win.browser.image_model.querying and win.browser.image_model.rowCount() == m[r, c], timeout=10000)
    idle(win)
    tiles = win.browser.image_model.loaded_tiles()
    assert {t.label for t in tiles} == {names[r]} and {t.predicted for t in tiles} == {names[c]}


def test_lineage_and_compare(qtbot, window, idle):
    import shutil

    from core.model.checkpoint import read_metadata
    from core.store.model_versions import register_model_version

    win = window
    parent = win.state.model_version
    child_path = win.state.path.parent / "child.safetensors"
    shutil.copy(parent.path, child_path)
    with win.state.project.session() as s:
        child_id = register_model_version(s, str(child_path), read_metadata(child_path), parent_id=parent.id, name="child")
    win.versions_panel.refresh()
    qtbot.waitUntil(lambda: len(win.versions_panel.rows) == 2, timeout=10000)
    top = win.versions_panel.tree.topLevelItem(0)
    assert win.versions_panel.tree.topLevelItemCount() == 1 and top.childCount() == 1
    assert top.child(0).text(0) == "child"

    done = []
    w = win.controller.start_prediction(child_id, on_done=lambda: done.append(1))
    qtbot.waitUntil(lambda: bool(done), timeout=30000)
    idle(win)
    win.versions_panel.compare(parent.id, child_id)
    qtbot.waitUntil(lambda: "predictions changed" in win.versions_panel.compare_view.summary.text(), timeout=20000)
    # same weights: nothing changed, alphas identical
    summary = win.versions_panel.compare_view.summary.text()
    assert "0 predictions changed" in summary
    assert "on 6 test-split images: the same accuracy" in summary  # the held-out split, and the verdict
    assert all(np.allclose(x, 0) for x in win.versions_panel.compare_view.alpha_change)
    idle(win)


def test_an_onnx_export_is_added_and_predicts_under_its_checkpoint(qtbot, window, idle, tmp_path):
    """Models panel ▸ Add model…: an ONNX export becomes a model version (child of the checkpoint it
    came from), predicts like one; a file that is not a model is one line among the task errors."""
    from core.edge.onnx_export import export_onnx

    win = window
    panel = win.versions_panel
    parent = win.state.model_version
    onnx_path = export_onnx(parent.path, tmp_path / "tiny.onnx").path
    qtbot.waitUntil(lambda: len(panel.rows) == 1, timeout=10000)
    panel.add_model_file(str(onnx_path))
    qtbot.waitUntil(lambda: len(panel.rows) == 2, timeout=20000)
    top = panel.tree.topLevelItem(0)
    assert panel.tree.topLevelItemCount() == 1 and top.childCount() == 1
    child = top.child(0)
    assert child.text(0) == "tiny" and child.text(2) == "aan_s · ONNX fp32"
    assert panel.selected_id == child.data(0, 0x0100)  # the new version is selected

    done = []
    win.controller.start_prediction(panel.selected_id, on_done=lambda: done.append(1))
    qtbot.waitUntil(lambda: bool(done), timeout=30000)
    idle(win)
    panel.refresh()
    qtbot.waitUntil(lambda: any(r.predictions == 24 and r.record.path.endswith(".onnx") for r in panel.rows), timeout=10000)

    # Browsing with the export: its attention comes from the checkpoint it was exported from.
    onnx_id = next(r.record.id for r in panel.rows if r.record.path.endswith(".onnx"))
    panel.use_model.emit(onnx_id)
    qtbot.waitUntil(lambda: win.state.model_version_id == onnx_id and not win.browser.image_model.querying, timeout=10000)
    win.browser.grid.select_row(0)
    qtbot.waitUntil(lambda: win.inspection.result is not None, timeout=20000)
    idle(win)
    assert not win.task_status.errors

    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"not a model")
    panel.add_model_file(str(bad))
    qtbot.waitUntil(lambda: bool(win.task_status.errors), timeout=10000)
    assert win.task_status.errors[-1][2] == "bad.onnx: not an ONNX model, or damaged (its bytes do not parse as one)"
    idle(win)
    assert len(panel.rows) == 2


def test_measure_maps_stores_the_result_and_shows_it(qtbot, window, idle):
    """Models ▸ Measure maps: a task with progress; the metrics then say how far the maps can be trusted."""
    win = window
    panel = win.versions_panel
    win.versions_dock.raise_()
    qtbot.waitUntil(lambda: panel.metrics.table.rowCount() == 3, timeout=20000)
    assert panel.metrics.maps.text().startswith("Maps: not measured yet")
    done = []
    w = panel.measure_maps(win.state.model_version_id, n=4)
    w.signals.finished.connect(lambda: done.append(1))
    qtbot.waitUntil(lambda: bool(done), timeout=120000)
    qtbot.waitUntil(lambda: panel.metrics.maps.text().startswith("Maps (relevance, 4 images)"), timeout=20000)
    table = panel.metrics.maps_table
    assert panel.tabs.tabText(panel.tabs.indexOf(table)) == "Maps" and table.rowCount() == 5  # every method
    assert table.item(0, 0).text().endswith(" *") and table.item(4, 0).text() == "random (baseline)"
    idle(win)


def test_the_browsed_model_stays_chosen_across_predictions_and_restarts(qtbot, window, idle, project_path):
    """Browse an older version, predict with another: browsing stays (the new one is offered);
    a new window on the same project comes back to the version browsed last."""
    import shutil

    from app.qt_main_window import QtMainWindow
    from app.settings import Settings
    from core.model.checkpoint import read_metadata
    from core.store.model_versions import register_model_version

    win = window
    first = win.state.model_version
    second_path = win.state.path.parent / "second.safetensors"
    shutil.copy(first.path, second_path)
    with win.state.project.session() as s:
        second = register_model_version(s, str(second_path), read_metadata(second_path), name="second")
    messages = []
    win.controller.message.connect(lambda text, _ms: messages.append(text))
    done = []
    win.controller.start_prediction(second, on_done=lambda: done.append(1))
    qtbot.waitUntil(lambda: bool(done) and any("still browsing" in m for m in messages), timeout=30000)
    idle(win)
    assert win.state.model_version_id == first.id  # not switched silently
    assert "Browse with it to switch" in messages[-1]

    win.versions_panel.use_model.emit(second)
    qtbot.waitUntil(lambda: win.state.model_version_id == second, timeout=10000)
    idle(win)
    win.shutdown()
    again = QtMainWindow(Settings())
    qtbot.addWidget(again)
    again.show()
    again.controller.open_project(project_path)
    qtbot.waitUntil(lambda: again.state.is_open and not again.browser.image_model.querying, timeout=15000)
    assert again.state.model_version_id == second
    again.shutdown()
