"""While a prediction runs on a few hundred images the UI thread stays responsive, and cancel stops it."""
from __future__ import annotations

import shutil
import time

from PySide6.QtCore import QTimer


def _predicted(db, model_id) -> int:
    from core.store.predictions import predicted_image_ids
    from core.store.project import open_project

    with open_project(db) as p, p.session() as s:
        return len(predicted_image_ids(s, model_id))


def test_prediction_responsive_and_cancellable(qtbot, tmp_path, big_project_template):
    from app.qt_main_window import QtMainWindow
    from app.settings import Settings

    template, model_id = big_project_template
    db = tmp_path / "big.db"
    shutil.copy(template, db)
    win = QtMainWindow(Settings())
    qtbot.addWidget(win)
    win.show()
    win.controller.open_project(db)
    qtbot.waitUntil(lambda: win.state.is_open and win.is_idle(), timeout=15000)

    worst = [0.0]
    last = [time.perf_counter()]

    def tick():
        now = time.perf_counter()
        worst[0] = max(worst[0], now - last[0] - 0.020)
        last[0] = now

    timer = QTimer()
    timer.setInterval(20)
    timer.timeout.connect(tick)
    progress = []
    w = win.controller.start_prediction(model_id)
    w.signals.progress.connect(lambda d, t, _text: progress.append((d, t)))
    last[0] = time.perf_counter()
    timer.start()
    assert win.task_status.current is w and win.task_status.cancel_button.isVisible()
    qtbot.waitUntil(lambda: any(d >= 64 for d, _ in progress), timeout=60000)
    with qtbot.waitSignal(w.signals.cancelled, timeout=30000):
        win.task_status.cancel_button.click()
    timer.stop()
    qtbot.waitUntil(win.is_idle, timeout=15000)
    n = _predicted(db, model_id)
    assert 64 <= n < 400, f"cancel did not stop the prediction ({n} of 400 predicted)"
    print(f"predicted {n} of 400 before cancel; worst timer lateness {worst[0] * 1000:.0f} ms")
    assert worst[0] < 0.2, f"UI thread blocked for {worst[0] * 1000:.0f} ms"
    win.shutdown()
