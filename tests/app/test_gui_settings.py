"""Settings persist (user name, last project, window layout) in the test's own settings folder;
errors from workers reach the status bar; importing a dataset folder runs in a worker."""
from __future__ import annotations

from app.settings import Settings


def test_settings_persist_in_tmp(qtbot, project_path, tmp_path):
    from app.qt_main_window import QtMainWindow

    s = Settings()
    s.user = "bob"
    win = QtMainWindow(Settings())
    qtbot.addWidget(win)
    win.show()
    win.controller.open_project(project_path)
    qtbot.waitUntil(lambda: win.state.is_open and win.is_idle(), timeout=15000)
    assert win.state.user == "bob"
    win.attention_dock.hide()
    win.close()
    again = Settings()
    assert again.last_project == str(project_path) and again.user == "bob"
    geometry, state, _split = again.window_state()
    assert geometry is not None and state is not None
    win2 = QtMainWindow(Settings())
    qtbot.addWidget(win2)
    win2.show()
    win2.controller.open_project(project_path)
    qtbot.waitUntil(lambda: win2.state.is_open and win2.is_idle(), timeout=15000)
    assert not win2.attention_dock.isVisible()  # the layout came back
    win2.attention_dock.show()
    win2.close()


def test_worker_errors_reach_the_status_bar(qtbot, window):
    from core.errors import InspectorError

    def boom(_ctx):
        raise InspectorError("the camera share is offline")

    with qtbot.waitSignal(window.workers.failed, timeout=5000):
        window.workers.start(boom, name="Load")
    assert "camera share is offline" in window.task_status.error_label.text()
    assert window.task_status.errors[-1][1:] == ("Load", "the camera share is offline")


def test_import_dataset_folder_then_switch_project(qtbot, tmp_path, project_path):
    from PIL import Image

    from app.qt_main_window import QtMainWindow

    for cls in ("ok", "dent"):
        (tmp_path / "ds" / cls).mkdir(parents=True)
        for i in range(3):
            Image.new("L", (32, 32), 40 * i + (10 if cls == "ok" else 0)).save(tmp_path / "ds" / cls / f"{i}.png")
    win = QtMainWindow(Settings())
    qtbot.addWidget(win)
    win.show()
    win.controller.import_dataset(str(tmp_path / "ds"), str(tmp_path / "ds.db"))
    assert win.task_status.current is not None  # progress bar and cancel shown meanwhile
    qtbot.waitUntil(lambda: win.state.is_open and win.is_idle(), timeout=20000)
    assert win.browser.image_model.rowCount() == 6 and win.state.class_names == ["dent", "ok"]
    # every thumbnail made in the background after the import
    assert len(list(win.state.thumbnail_dir.rglob("*.jpg"))) == 6
    # another project in the same window: its own rows, classes and thumbnail cache
    win.controller.open_project(project_path)
    qtbot.waitUntil(lambda: win.state.path == project_path and win.is_idle(), timeout=20000)
    assert win.browser.image_model.rowCount() == 24 and win.state.class_names == ["good", "scratch", "spot"]
    assert win.browser.thumbs.cache_dir == win.state.thumbnail_dir and any(win.state.thumbnail_dir.rglob("*.jpg"))
    assert [b.text() for b in win.image_pane.legend.buttons] == ["1  good", "2  scratch", "3  spot"]
    assert win.image_pane.legend.buttons[0].text().startswith("1")
    win.shutdown()


def test_error_list_opens_on_click(qtbot, window):
    from core.errors import InspectorError

    def boom(_ctx):
        raise InspectorError("disk full")

    with qtbot.waitSignal(window.workers.failed, timeout=5000):
        window.workers.start(boom, name="Save")
    window.task_status.error_label.click()
    assert window.task_status.error_label.isHidden()
    from PySide6.QtWidgets import QMessageBox

    boxes = [b for b in window.task_status.findChildren(QMessageBox) if b.isVisible()]
    assert boxes and "Save: disk full" in boxes[-1].text()
    boxes[-1].close()


def _window_on(qtbot, project_path):
    """A new main window at 1400x900, with the project open and its first query done."""
    from app.qt_main_window import QtMainWindow
    from app.settings import Settings

    win = QtMainWindow(Settings())
    qtbot.addWidget(win)
    win.resize(1400, 900)
    win.show()
    win.controller.open_project(project_path)
    qtbot.waitUntil(lambda: win.state.is_open and not win.browser.image_model.querying, timeout=15000)
    return win


def test_a_layout_saved_at_an_odd_size_comes_back_usable(qtbot, project_path):
    """Close the window cramped (small, the attention dock squeezed, the grid wide): the next
    window opens with a layout no worse than the default one. View ▸ Reset layout does the same."""
    first = _window_on(qtbot, project_path)
    first.resize(700, 420)
    first.center_split.setSizes([650, 50])
    qtbot.wait(100)
    assert first.layout_problem() is not None  # cramped indeed
    first.close()

    again = _window_on(qtbot, project_path)
    try:
        qtbot.waitUntil(lambda: again.layout_problem() is None, timeout=5000)
    except Exception:
        raise AssertionError(f"{again.layout_problem()}; window {again.width()}x{again.height()}") from None
    assert again.width() >= 1400 and again.height() >= 900
    again.center_split.setSizes([1000, 10])
    qtbot.wait(50)
    assert again.layout_problem() is not None
    again.reset_layout()
    qtbot.waitUntil(lambda: again.layout_problem() is None, timeout=5000)
    again.shutdown()
