"""Which Qt platform to start on, decided before Qt is imported, so that a machine without a
display or without Qt's X11 libraries gets one line instead of Qt's abort (SIGABRT).

- `--screenshot`: always offscreen (nothing needs to be seen; also works over ssh and in CI).
- QT_QPA_PLATFORM set: the user's choice, untouched.
- Wayland: Qt's own choice.
- X11: the xcb plugin is loaded once with ctypes first; a missing system library is named with
  its Debian package (scripts/setup.sh installs them when run as root).
- No display at all: a clear message that says how to get a picture anyway.
"""
from __future__ import annotations

import ctypes
import os
from pathlib import Path

from core.errors import InspectorError

# Libraries of Qt's xcb plugin that minimal Debian/Ubuntu installs lack, and their packages.
XCB_PACKAGES = {
    "libxcb-cursor.so.0": "libxcb-cursor0", "libxcb-icccm.so.4": "libxcb-icccm4",
    "libxcb-keysyms.so.1": "libxcb-keysyms1", "libxcb-image.so.0": "libxcb-image0",
    "libxcb-render-util.so.0": "libxcb-render-util0", "libxcb-shape.so.0": "libxcb-shape0",
    "libxcb-randr.so.0": "libxcb-randr0", "libxcb-xkb.so.1": "libxcb-xkb1",
    "libxkbcommon-x11.so.0": "libxkbcommon-x11-0", "libX11-xcb.so.1": "libx11-xcb1",
}


def choose_platform(*, screenshot: bool, env: dict[str, str] | None = None) -> str | None:
    """Set QT_QPA_PLATFORM in `env` (default os.environ) where Inspector must choose; returns the
    platform chosen (None: Qt's default). Raises InspectorError when no window can be shown."""
    env = os.environ if env is None else env
    if env.get("QT_QPA_PLATFORM"):
        return env["QT_QPA_PLATFORM"]
    if screenshot:
        env["QT_QPA_PLATFORM"] = "offscreen"
        return "offscreen"
    if env.get("WAYLAND_DISPLAY"):
        return None
    if not env.get("DISPLAY"):
        raise InspectorError("no display to open the window on (DISPLAY and WAYLAND_DISPLAY are not set): run it in a "
                             "desktop session or over ssh -X, or save a picture of it with --screenshot OUT.png")
    missing = missing_xcb_library()
    if missing:
        package = XCB_PACKAGES.get(missing, missing)
        raise InspectorError(f"Qt's X11 platform needs the system library {missing}: apt-get install {package} "
                             f"(`make setup` as root installs it), or save a picture with --screenshot OUT.png")
    return None


def missing_xcb_library() -> str | None:
    """The first shared library Qt's xcb plugin cannot load, or None (also when there is no plugin)."""
    import PySide6

    plugin = Path(PySide6.__file__).parent / "Qt" / "plugins" / "platforms" / "libqxcb.so"
    if not plugin.exists():
        return None
    try:
        ctypes.CDLL(str(plugin))
    except OSError as e:  # "libxcb-icccm.so.4: cannot open shared object file: ..."
        return str(e).split(":", 1)[0].strip() or str(e)
    return None
