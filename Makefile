# The two commands in the README: `make demo` and `make test`. Both set up .venv first.
.PHONY: setup demo test bench

setup:
	@bash scripts/setup.sh

demo: setup
	.venv/bin/inspector demo

# Two pytest-xdist workers (tests/conftest.py gives each worker's torch one thread). Work stealing: with
# the default scheduling one worker was handed a quarter of the suite up front, most of the long tests
# among it, and ran 170 s after the other had finished (7:04 in all; 5:57 with stealing, 2 quiet cores).
# A third worker made it slower (7:58). PYTEST_WORKERS=0 runs the suite in one process.
PYTEST_WORKERS ?= 2

test: setup
	QT_QPA_PLATFORM=offscreen .venv/bin/python -m pytest -q -n $(PYTEST_WORKERS) $(if $(filter 0,$(PYTEST_WORKERS)),,--dist worksteal) --durations=15 $(PYTEST_ARGS)

bench: setup
	.venv/bin/python bench/model_speed.py
