#!/usr/bin/env bash
# Creates .venv with everything Inspector needs (idempotent). System libraries Qt links
# against (offscreen, and the X11 (xcb) platform a desktop uses) are installed with apt-get when
# running as root on Debian/Ubuntu and missing; app/display.py names the one missing otherwise.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}

if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    missing=()
    for lib in libEGL.so.1:libegl1 libGL.so.1:libgl1 libfontconfig.so.1:libfontconfig1 \
               libxkbcommon.so.0:libxkbcommon0 libglib-2.0.so.0:libglib2.0-0 libdbus-1.so.3:libdbus-1-3 \
               libxcb-cursor.so.0:libxcb-cursor0 libxcb-icccm.so.4:libxcb-icccm4 libxcb-keysyms.so.1:libxcb-keysyms1 \
               libxcb-image.so.0:libxcb-image0 libxcb-render-util.so.0:libxcb-render-util0 \
               libxcb-shape.so.0:libxcb-shape0 libxcb-randr.so.0:libxcb-randr0 libxcb-xkb.so.1:libxcb-xkb1 \
               libxkbcommon-x11.so.0:libxkbcommon-x11-0 libX11-xcb.so.1:libx11-xcb1; do
        ldconfig -p | grep -q "${lib%%:*}" || missing+=("${lib##*:}")
    done
    if [ ${#missing[@]} -gt 0 ]; then
        echo "installing system libraries for Qt: ${missing[*]}"
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
    fi
fi

stamp=.venv/.installed-$(sha1sum pyproject.toml | cut -c1-12)
if [ ! -f "$stamp" ]; then
    [ -x .venv/bin/python ] || "$PY" -m venv .venv
    .venv/bin/python -m pip install -q --upgrade pip
    .venv/bin/python -m pip install -q -e '.[test]'
    rm -f .venv/.installed-*; touch "$stamp"
fi
