"""The demo task: data, import, model, predictions, made once and found again the second time."""
from __future__ import annotations

import pytest


@pytest.mark.slow
def test_demo_is_made_once_then_reused(qtbot, tmp_path):
    from app.qt_main_window import QtMainWindow
    from app.settings import Settings
    from app.tasks import prepare_demo

    win = QtMainWindow(Settings())
    qtbot.addWidget(win)
    win.show()
    result = []
    win.workers.start(prepare_demo, str(tmp_path / "demo"), "tester", n=40, epochs=1, input_size=64,
                      name="Demo", user_visible=True, pool="long", on_result=result.append)
    qtbot.waitUntil(lambda: bool(result) or bool(win.task_status.errors), timeout=300000)
    assert not win.task_status.errors, win.task_status.errors
    win.open_project(result[0])
    qtbot.waitUntil(lambda: win.ctx is not None and win.inspection.result is not None and win.is_idle(), timeout=60000)
    assert win.ctx.model is not None and win.image_model.rowCount() == 40
    assert all(t.predicted is not None for t in win.image_model.loaded_tiles())
    again = []
    win.workers.start(prepare_demo, str(tmp_path / "demo"), "tester", on_result=again.append, pool="long")
    qtbot.waitUntil(lambda: bool(again), timeout=30000)  # nothing left to make: quick
    assert again == result
    win.shutdown()
