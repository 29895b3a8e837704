#!/usr/bin/env bash
# The GPU check of issue 14 in one command (see scripts/gpu_check.py for the steps):
#
#   bash scripts/gpu_check.sh [--bundle DIR] [--device cpu] [...]   # arguments go to scripts/gpu_check.py
#
# On the lent GPU machine the project is not installed: this uses .venv/bin/python when there is
# one, else python3 (the machine's image holds torch, torchvision, numpy, pillow, safetensors and
# pytest). What the image lacks (SQLAlchemy, Alembic, Mako) travels as wheels in .whl/ (made here
# by scripts/gpu_wheels.sh, carried with the run) and is installed into /tmp, never into the image.
# Exit status: 0 when every step passed, 1 otherwise (the report says which and why).
set -uo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-}
if [ -z "$PY" ]; then
    if [ -x .venv/bin/python ]; then PY=.venv/bin/python; else PY=python3; fi
fi
if ! "$PY" -c "import sqlalchemy, alembic" 2>/dev/null; then
    if ls .whl/*.whl >/dev/null 2>&1; then
        "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
            --target /tmp/inspector-site .whl/*.whl \
            && export PYTHONPATH=/tmp/inspector-site${PYTHONPATH:+:$PYTHONPATH}
    else
        echo "gpu_check.sh: $PY lacks sqlalchemy/alembic and there is no .whl/ (run scripts/gpu_wheels.sh first);" \
             "the steps that need the project store will fail" >&2
    fi
fi
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
exec "$PY" scripts/gpu_check.py "$@"
