"""The window must appear at once: importing the GUI must not import torch."""
from __future__ import annotations

import subprocess
import sys


def test_gui_modules_do_not_import_torch(tmp_path):
    # The whole workspace, every panel built, still without torch: models load in workers only.
    code = (
        "import sys, app.qt_app, app.qt_main_window, app.cli.gui_cmds\n"
        "from app.qt_app import get_app\n"
        "app_ = get_app(); win = app.qt_main_window.QtMainWindow(); win.show(); win.ensure_workspace()\n"
        "app_.processEvents()\n"
        "heavy = [m for m in ('torch', 'torchvision') if m in sys.modules]\n"
        "win.shutdown()\n"
        "print(','.join(heavy))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                         env={"QT_QPA_PLATFORM": "offscreen", "PATH": "", "XDG_CONFIG_HOME": str(tmp_path)})
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "", f"imported at GUI start-up: {out.stdout.strip()}"


def test_window_is_visible_within_a_second(tmp_path):
    """From the first import of the GUI to a window on screen: no database, plotting or model
    library on that path (they load once the window shows, or in workers). The bound is on the
    process's CPU time, which the work on that path sets; wall-clock time also counts whatever
    else a loaded machine runs (a CI run has two test workers) and is only printed."""
    code = (
        "import time; t0, c0 = time.perf_counter(), time.process_time()\n"
        "import sys\n"
        "from app.qt_app import get_app\n"
        "from app.qt_main_window import QtMainWindow\n"
        "app_ = get_app(); win = QtMainWindow(); win.show(); app_.processEvents()\n"
        "elapsed, cpu = time.perf_counter() - t0, time.process_time() - c0\n"
        "late = [m for m in ('sqlalchemy', 'pyqtgraph', 'torch') if m in sys.modules]\n"
        "win.shutdown()\n"
        "print(f'{elapsed:.3f}', f'{cpu:.3f}', win.isVisible(), ','.join(late))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                         env={"QT_QPA_PLATFORM": "offscreen", "PATH": "", "XDG_CONFIG_HOME": str(tmp_path)})
    assert out.returncode == 0, out.stderr
    elapsed, cpu, visible, *late = out.stdout.split()
    assert visible == "True" and not late, f"loaded before the window showed: {late}"
    print(f"window visible after {elapsed} s ({cpu} s of CPU)")
    assert float(cpu) < 1.0, f"window visible after {cpu} s of CPU ({elapsed} s on the clock)"


def test_welcome_screen_without_project(qtbot):
    from app.qt_main_window import QtMainWindow

    win = QtMainWindow()
    qtbot.addWidget(win)
    win.show()
    assert win.stack.currentWidget() is win.welcome
    assert win.welcome.demo_button.isVisible()
    win.shutdown()


def test_screenshot_command(project_path, tmp_path):
    """`inspector gui --db P --screenshot OUT.png` renders the first image with its attention and exits."""
    out_png = tmp_path / "shot.png"
    r = subprocess.run([sys.executable, "-m", "app", "gui", "--db", str(project_path), "--screenshot", str(out_png)],
                       capture_output=True, text=True, timeout=300,
                       env={"QT_QPA_PLATFORM": "offscreen", "PATH": "", "XDG_CONFIG_HOME": str(tmp_path),
                            "HOME": str(tmp_path)})
    assert r.returncode == 0, r.stderr[-2000:]
    from PySide6.QtGui import QImage

    img = QImage(str(out_png))
    assert img.width() >= 1200 and img.height() >= 800


def test_gui_refuses_a_missing_project(tmp_path):
    r = subprocess.run([sys.executable, "-m", "app", "gui", "--db", str(tmp_path / "nope.db")],
                       capture_output=True, text=True, timeout=60, env={"QT_QPA_PLATFORM": "offscreen", "PATH": ""})
    assert r.returncode == 2 and "no such project file" in r.stderr and "Traceback" not in r.stderr
