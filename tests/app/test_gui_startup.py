"""The window must appear at once: importing the GUI must not import torch."""
from __future__ import annotations

import subprocess
import sys


def test_gui_modules_do_not_import_torch():
    code = (
        "import sys, app.qt_app, app.qt_main_window, app.cli.gui_cmds\n"
        "heavy = [m for m in ('torch', 'torchvision') if m in sys.modules]\n"
        "print(','.join(heavy))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                         env={"QT_QPA_PLATFORM": "offscreen", "PATH": ""})
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "", f"imported at GUI start-up: {out.stdout.strip()}"


def test_welcome_screen_without_project(qtbot):
    from app.qt_main_window import QtMainWindow

    win = QtMainWindow()
    qtbot.addWidget(win)
    win.show()
    assert win.stack.currentWidget() is win.welcome
    assert win.welcome.demo_button.isVisible()
    win.shutdown()
