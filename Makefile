# Two commands on a fresh machine: `make run` (set up, fetch models, serve) and
# `make test` (set up, fetch models, lint, type-check, run the whole suite).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
SB := $(BIN)/switchboard
# llama-cpp-python compiles llama.cpp on first install (~10 min on 2 cores; pip caches the wheel).
export CMAKE_BUILD_PARALLEL_LEVEL ?= $(shell nproc)
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: install models browser redis run test lint typecheck unit integration bench clean

# pyproject pins CPython 3.11: say so before creating anything.
$(VENV)/.installed: pyproject.toml
	@case "$$($(PYTHON) --version 2>/dev/null)" in "Python 3.11."*) ;; *) \
	  echo "error: Switchboard needs Python 3.11, but PYTHON=$(PYTHON) is" \
	    "'$$($(PYTHON) --version 2>/dev/null || echo missing)': install Python 3.11 (and its" \
	    "venv module) and run make PYTHON=python3.11" >&2; exit 1;; esac
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --progress-bar off -e '.[dev]'
	touch $@

install: $(VENV)/.installed

models: install
	$(SB) models pull --default

# Debian's chromium for the browser tests (apt-get, root; skipped when already installed).
browser:
	bash scripts/install-chromium.sh

# Debian's redis-server for the multi-replica gateway tests (the tests start and stop their own).
redis:
	bash scripts/install-redis.sh

run: models
	$(SB) demo load
	$(SB) serve

lint: install
	$(BIN)/ruff check src tests
	$(BIN)/ruff format --check src tests

typecheck: install
	$(BIN)/mypy

unit: install
	$(BIN)/pytest -m unit -q

integration: models browser redis
	$(BIN)/pytest -m integration -q

test: models browser redis lint typecheck
	$(BIN)/pytest -q

bench: models
	$(SB) bench engine --json bench-engine.json

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
