# The two commands in the README: `make demo` and `make test`. Both set up .venv first.
.PHONY: setup demo test bench

setup:
	@bash scripts/setup.sh

demo: setup
	.venv/bin/inspector demo

test: setup
	QT_QPA_PLATFORM=offscreen .venv/bin/python -m pytest -q --durations=15 $(PYTEST_ARGS)

bench: setup
	.venv/bin/python bench/model_speed.py
