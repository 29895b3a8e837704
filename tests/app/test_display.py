"""The platform is chosen before Qt starts: offscreen for screenshots, a clear line without a display."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

from app.display import choose_platform
from core.errors import InspectorError


def test_screenshots_are_offscreen_and_an_explicit_platform_is_kept():
    env: dict[str, str] = {}
    assert choose_platform(screenshot=True, env=env) == "offscreen" and env["QT_QPA_PLATFORM"] == "offscreen"
    env = {"QT_QPA_PLATFORM": "xcb", "DISPLAY": ":0"}
    assert choose_platform(screenshot=True, env=env) == "xcb" and env["QT_QPA_PLATFORM"] == "xcb"
    assert choose_platform(screenshot=False, env={"WAYLAND_DISPLAY": "wayland-0"}) is None


def test_no_display_is_one_line_that_says_what_to_do():
    with pytest.raises(InspectorError) as e:
        choose_platform(screenshot=False, env={})
    assert "no display" in str(e.value) and "--screenshot OUT.png" in str(e.value) and "\n" not in str(e.value)


def _no_display_env(tmp_path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    return dict(env, XDG_CONFIG_HOME=str(tmp_path / "config"))


def test_gui_without_display_says_so_and_exits(tmp_path, project_path):
    r = subprocess.run([sys.executable, "-m", "app", "gui", "--db", str(project_path)], capture_output=True, text=True,
                       timeout=60, env=_no_display_env(tmp_path))
    assert r.returncode == 2
    assert r.stderr.startswith("inspector: error: no display to open the window on")


@pytest.mark.slow
def test_demo_screenshot_without_display_succeeds(tmp_path):
    """`inspector demo --screenshot` with no DISPLAY and no QT_QPA_PLATFORM: offscreen, a picture, exit 0."""
    out = tmp_path / "demo.png"
    r = subprocess.run([sys.executable, "-m", "app", "demo", "--dir", str(tmp_path / "demo"), "--screenshot", str(out)],
                       capture_output=True, text=True, timeout=600, env=_no_display_env(tmp_path))
    assert r.returncode == 0, r.stderr[-2000:]
    # the terminal follows the demo's build, step by step (not only the window)
    for step in ("making the demo images 500/500", "writing the project 500/500", "500/500 images"):
        assert step in r.stderr, r.stderr[-2000:]
    from PIL import Image

    with Image.open(out) as im:
        assert im.size[0] >= 1000 and im.size[1] >= 600
