#!/usr/bin/env bash
# Downloads, into .whl/ (git-ignored), the wheels that the GPU machine's
# image lacks for scripts/gpu_check.sh: the project store's SQLAlchemy, Alembic and Mako, at the
# versions this project is tested with. Pure-Python wheels (py3-none-any): any Python >= 3.11 there takes them.
# Run it here, then name .whl in the device run's carry list.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p .whl
PY=${PYTHON:-$( [ -x .venv/bin/python ] && echo .venv/bin/python || echo python3 )}
"$PY" -m pip download -q --no-deps --only-binary=:all: --platform any --python-version 3.12 --implementation py \
    -d .whl "SQLAlchemy==2.1.9" "alembic==1.20.1" "Mako==1.4.3"
ls -l .whl
