# MiniMeter: `make run` starts everything locally and ingests a demo bill; `make test` runs the suite.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test lint typecheck check bench chaos histories eval clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	$(PY) -m stack.run

test: $(STAMP)
	$(PY) -m pytest -q $(PYTEST_ARGS)

lint: $(STAMP)
	$(VENV)/bin/ruff check .

typecheck: $(STAMP)
	$(VENV)/bin/mypy .

check: lint typecheck test

bench: $(STAMP)
	$(PY) -m bench.run $(BENCH_ARGS)

chaos: $(STAMP)
	$(PY) -m bench.chaos $(CHAOS_ARGS)

histories: $(STAMP)
	$(PY) -m tests.record_histories

eval: $(STAMP)
	mkdir -p .data
	$(PY) -m eval.run eval/bills --json .data/eval.json

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
