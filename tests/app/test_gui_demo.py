"""The demo task: data, import, model, predictions, made once and found again the second time."""
from __future__ import annotations

import pytest


@pytest.mark.slow
def test_demo_is_made_once_then_reused(qtbot, tmp_path):
    from app.qt_main_window import QtMainWindow
    from app.settings import Settings
    from usecases.demo_project import prepare_demo

    win = QtMainWindow(Settings())
    qtbot.addWidget(win)
    win.show()
    result = []
    win.workers.start(lambda ctx: prepare_demo(tmp_path / "demo", "tester", n=40, epochs=1, input_size=64, progress=ctx),
                      name="Demo", user_visible=True, pool="long", on_result=result.append)
    qtbot.waitUntil(lambda: bool(result) or bool(win.task_status.errors), timeout=300000)
    assert not win.task_status.errors, win.task_status.errors
    win.controller.open_project(result[0])
    qtbot.waitUntil(lambda: win.state.is_open and win.inspection.result is not None and win.is_idle(), timeout=60000)
    assert win.state.model_version is not None and win.browser.image_model.rowCount() == 40
    assert all(t.predicted is not None for t in win.browser.image_model.loaded_tiles())
    again = []
    win.workers.start(lambda ctx: prepare_demo(tmp_path / "demo", "tester", progress=ctx), on_result=again.append,
                      pool="long")
    qtbot.waitUntil(lambda: bool(again), timeout=30000)  # nothing left to make: quick
    assert again == result
    win.shutdown()
