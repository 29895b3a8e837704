"""While a prediction runs on a few hundred images the UI thread stays responsive, and cancel stops it.

Responsiveness is judged by the CPU time the UI thread itself spends between two ticks of a 20 ms
timer: work done on that thread (decoding, inference, a database scan) shows there on any machine,
while the wall-clock lateness also counts the time a loaded machine gives other processes (a CI run
with two test workers once delayed a tick by 700 ms with the UI thread idle). The wall-clock figure
is printed, not asserted."""
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

    worst_late, worst_busy = [0.0], [0.0]
    last = [time.perf_counter(), time.thread_time()]

    def tick():  # runs on the UI thread, so thread_time() is the UI thread's CPU time
        now, cpu = time.perf_counter(), time.thread_time()
        worst_late[0] = max(worst_late[0], now - last[0] - 0.020)
        worst_busy[0] = max(worst_busy[0], cpu - last[1])
        last[:] = [now, cpu]

    timer = QTimer()
    timer.setInterval(20)
    timer.timeout.connect(tick)
    progress = []
    w = win.controller.start_prediction(model_id)
    w.signals.progress.connect(lambda d, t, _text: progress.append((d, t)))
    last[:] = [time.perf_counter(), time.thread_time()]
    timer.start()
    assert win.task_status.current is w and win.task_status.cancel_button.isVisible()
    qtbot.waitUntil(lambda: any(d >= 64 for d, _ in progress), timeout=60000)
    with qtbot.waitSignal(w.signals.cancelled, timeout=30000):
        win.task_status.cancel_button.click()
    timer.stop()
    qtbot.waitUntil(win.is_idle, timeout=15000)
    n = _predicted(db, model_id)
    assert 64 <= n < 400, f"cancel did not stop the prediction ({n} of 400 predicted)"
    print(f"predicted {n} of 400 before cancel; worst timer lateness {worst_late[0] * 1000:.0f} ms, "
          f"most UI-thread CPU between ticks {worst_busy[0] * 1000:.0f} ms")
    assert worst_busy[0] < 0.2, f"the UI thread worked {worst_busy[0] * 1000:.0f} ms without returning to its loop"
    win.shutdown()
