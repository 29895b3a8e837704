# The two commands in the README: `make demo` and `make test`. Both set up .venv first.
.PHONY: setup demo test bench

setup:
	@bash scripts/setup.sh

demo: setup
	.venv/bin/inspector demo

# Two pytest-xdist workers: many tests wait on processes they start (torchrun, SLURM, PostgreSQL, the
# CLI), so two share two cores well (tests/conftest.py gives each worker's torch one thread).
# PYTEST_WORKERS=0 runs the suite in one process.
PYTEST_WORKERS ?= 2

test: setup
	QT_QPA_PLATFORM=offscreen .venv/bin/python -m pytest -q -n $(PYTEST_WORKERS) --durations=15 $(PYTEST_ARGS)

bench: setup
	.venv/bin/python bench/model_speed.py
