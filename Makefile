# MiniMeter: `make run` starts everything locally and ingests a demo bill; `make test` runs the suite.
# Needs Linux x86-64 and Python 3.11 or newer (`make run PYTHON=python3.11` where python3 is older).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# Exits 0 on Python 3.11 or newer only.
NEW_ENOUGH := import sys; sys.exit(sys.version_info < (3, 11))

.PHONY: run test lint typecheck check bench chaos histories eval clean constraints

# A venv of an older Python (python3 was 3.10 at the first try) is made again with $(PYTHON): reused,
# each install failed in it whatever PYTHON said. Exact versions from constraints.txt (`make constraints`).
# A PYTHON not found is said so: told it was too old, one asked again for the python3.11 it lacked.
# A venv without pip is made again too, and a venv that failed is removed: Debian's Python without its
# python3.X-venv package makes bin/python, then fails in ensurepip, and that venv was reused ever after.
$(STAMP): pyproject.toml constraints.txt
	@{ $(PY) -c '$(NEW_ENOUGH)' && $(PY) -m pip --version; } >/dev/null 2>&1 || { \
	  command -v $(PYTHON) >/dev/null || { \
	    echo "MiniMeter needs Python 3.11 or newer, and $(PYTHON) was not found: install one, then make $(or $(MAKECMDGOALS),run) PYTHON=<its name or path>" >&2; \
	    exit 1; }; \
	  $(PYTHON) -c '$(NEW_ENOUGH)' || { \
	    echo "MiniMeter needs Python 3.11 or newer, and $(PYTHON) is $$($(PYTHON) --version 2>&1): make $(or $(MAKECMDGOALS),run) PYTHON=python3.11" >&2; \
	    exit 1; }; \
	  rm -rf $(VENV) && $(PYTHON) -m venv $(VENV) || { \
	    rm -rf $(VENV); \
	    venv=$$($(PYTHON) -c 'import sys; print("python%d.%d-venv" % sys.version_info[:2])' 2>/dev/null); \
	    echo "$(PYTHON) -m venv failed: install its venv module (on Debian or Ubuntu: apt install $${venv:-python3-venv}), then make $(or $(MAKECMDGOALS),run) again" >&2; \
	    exit 1; }; }
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c constraints.txt -e '.[dev]'
	touch $(STAMP)

# Pin what works in this venv, for CI and the image. After changing pyproject.toml's dependencies, delete
# the lines of the packages to move (or all but the first), `make`, then `make constraints`. Written aside and
# moved in place: a freeze that failed half-way left a file that pinned nothing, or only some.
constraints: $(STAMP)
	{ echo '# Exact versions for `make` and the Dockerfile: `make constraints` writes it from a working .venv.'; \
	  $(PY) -m pip freeze --exclude-editable; } > constraints.txt.new \
	  && mv constraints.txt.new constraints.txt || { rm -f constraints.txt.new; exit 1; }

run: $(STAMP)
	$(PY) -m stack.run

# Two pytest workers, each with its own dev server, Postgres and emulators: the suite spends most of its time
# waiting on them. On two cores 1,630 tests took 12-14 minutes in one process and about 6 in two; 2,875 take 8.5-9.
# A test file stays on one worker, so its module fixtures start once. TEST_WORKERS=0 runs it in one process.
# The slowest files go first (tests/durations.json, read once by the controller in tests/file_order_plugin.py;
# xdist's own order by test count is off): by count, the 40-second one-test files came last and the suite ended
# on one worker alone.
TEST_WORKERS ?= 2

test: $(STAMP)
	$(PY) -m pytest -q -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder $(PYTEST_ARGS)

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: $(STAMP)
	$(VENV)/bin/mypy .

# Lint and types first, for a quick answer; the suite checks them again (tests/test_code_standards.py).
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
