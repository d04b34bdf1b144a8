# lablink's one task runner. `make demo` and `make test` work on a fresh machine with
# nothing but Python 3.11+: each creates .venv and installs what it needs. CI (.ci/run)
# runs `make test` and `make lint`, exactly as a developer does.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PYTEST_ARGS ?=
# One worker more than cores: the tests spend much of their time waiting on servers and
# child processes, so the extra worker keeps the cores busy (12.4 min against 14.3 min
# on 2 cores).
PYTEST_WORKERS ?= $(shell echo $$(( $$(nproc) + 1 )))
DEMO_ARGS ?=

.DEFAULT_GOAL := help
.PHONY: help demo test lint format typecheck docs bench chromium postgres clean

help: ## List the targets
	@grep -E '^[a-z]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

# -- the virtual environment ------------------------------------------------------------
# The stamp files make reinstalling happen only when pyproject.toml changes.

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "lablink needs Python 3.11 or newer, $(PYTHON) is " + sys.version.split()[0])'
	@$(PYTHON) -m venv $(VENV) || { \
	  rm -rf $(VENV); \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "python3 -m venv failed; installing Debian's python3-venv"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv \
	      && $(PYTHON) -m venv $(VENV); \
	  else echo "python3 -m venv failed: install your system's python3-venv package"; exit 1; fi; }
	$(BIN)/python -m pip install -q --upgrade pip

$(VENV)/.stamp-run: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e .
	@touch $@

$(VENV)/.stamp-dev: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e '.[dev]'
	@touch $@ $(VENV)/.stamp-run

# -- what the README promises ----------------------------------------------------------

demo: $(VENV)/.stamp-run ## Make a demo project with real runs, then serve it on :8500
	$(BIN)/lablink demo $(DEMO_ARGS)

test: $(VENV)/.stamp-dev chromium postgres ## Run the whole test suite (what CI runs)
	$(BIN)/python -m pytest -n $(PYTEST_WORKERS) -m "not serial" $(PYTEST_ARGS)
	@# The few serial tests run alone; pytest exits 5 when none are collected.
	$(BIN)/python -m pytest -m serial $(PYTEST_ARGS) || [ $$? -eq 5 ]

lint: $(VENV)/.stamp-dev ## ruff check and ruff format --check (what CI runs)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(VENV)/.stamp-dev ## Fix what ruff can fix and format the code
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

typecheck: $(VENV)/.stamp-dev ## mypy --strict on src/
	$(BIN)/mypy

docs: $(VENV)/.stamp-run ## Regenerate the reference parts of docs/cli.md and docs/settings.md
	$(BIN)/python -m lablink.cli.reference --write

bench: $(VENV)/.stamp-dev ## Run the benchmarks; they print figures beside references
	@for script in benchmarks/*.py; do \
	  echo "== $$script"; $(BIN)/python "$$script" || exit 1; \
	done

# -- real parts the tests use ----------------------------------------------------------

chromium: ## Debian's Chromium for the browser tests (installed when root and missing)
	@if [ ! -x /usr/bin/chromium ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "installing Debian's chromium for the browser tests"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; \
	  else \
	    echo "warning: /usr/bin/chromium is missing and this is not root: browser tests will fail"; \
	  fi; \
	fi

postgres: ## Start the local PostgreSQL cluster if it is installed but stopped
	@if command -v pg_isready >/dev/null && ! pg_isready -q -h 127.0.0.1 -p 5432; then \
	  if command -v pg_ctlcluster >/dev/null && [ -d /etc/postgresql ] && [ "$$(id -u)" = 0 ]; then \
	    pg_ctlcluster --skip-systemctl-redirect $$(ls /etc/postgresql | head -n 1) main start || true; \
	    for i in $$(seq 1 30); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 1; done; \
	  fi; \
	fi

clean: ## Remove the virtual environment and caches
	rm -rf $(VENV) .pytest_cache .ruff_cache .mypy_cache .hypothesis build dist src/*.egg-info
