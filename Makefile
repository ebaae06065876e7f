# chainsleuth developer tasks.
#
#   make venv       create/refresh .venv from uv.lock (cheap when up to date)
#   make test-deps  install the Debian packages the tests need (PostgreSQL server, Chromium, Java)
#   make node       install the npm packages the tests need (ganache) from package-lock.json
#   make lint       ruff + mypy
#   make bench-deps install what the benchmarks in bench/ need beyond the tests' (wrk)
#   make test       everything above, then the test suite
#   make demo       migrate, seed demo data and serve on http://127.0.0.1:8000
#   make clean      remove the virtualenv and caches

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

UV_VERSION := 0.13.8
VENV := .venv
VENV_STAMP := $(VENV)/.synced
BIN := $(VENV)/bin

CHAINSLEUTH_DATA_DIR ?= data
DEMO_HOST ?= 127.0.0.1
DEMO_PORT ?= 8000

# Debian packages the test suite needs, and the files that tell they are installed.
CHROMIUM := /usr/bin/chromium
TEST_APT_CHROMIUM := chromium fonts-dejavu-core
TEST_APT_POSTGRES := postgresql
TEST_APT_JAVA := openjdk-17-jre-headless

.PHONY: help venv bytecode test-deps bench-deps node lint test demo clean

help:
	@sed -n 's/^#   //p' $(MAKEFILE_LIST)

venv: $(VENV_STAMP)

$(VENV_STAMP): pyproject.toml uv.lock
	@if command -v uv >/dev/null 2>&1; then \
	    uv=uv; \
	else \
	    echo "uv not found: installing uv==$(UV_VERSION) with pip"; \
	    python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore \
	        "uv==$(UV_VERSION)" \
	    || python3 -m pip install --quiet --disable-pip-version-check \
	        --root-user-action=ignore --break-system-packages "uv==$(UV_VERSION)"; \
	    if command -v uv >/dev/null 2>&1; then uv=uv; else uv="python3 -m uv"; fi; \
	fi; \
	echo "+ $$uv sync --frozen --compile-bytecode"; \
	UV_PYTHON_DOWNLOADS=never $$uv sync --frozen --compile-bytecode
	@touch $@

# Byte-compile our own sources (cheap when up to date): every `chainsleuth` process, test
# subprocess and worker then starts from .pyc files, even where PYTHONDONTWRITEBYTECODE is set
# (as on some CI machines), instead of compiling ~300 modules each time (seconds per process).
bytecode: venv
	@$(BIN)/python -m compileall -q -j 0 src

test-deps:
	@missing=""; \
	if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then \
	    missing="$$missing $(TEST_APT_POSTGRES)"; \
	fi; \
	if [ ! -x "$(CHROMIUM)" ]; then \
	    missing="$$missing $(TEST_APT_CHROMIUM)"; \
	fi; \
	if ! command -v java >/dev/null 2>&1; then \
	    missing="$$missing $(TEST_APT_JAVA)"; \
	fi; \
	if [ -z "$$missing" ]; then \
	    echo "test-deps: PostgreSQL server, Chromium and Java already installed"; \
	    exit 0; \
	fi; \
	sudo=""; \
	if [ "$$(id -u)" -ne 0 ]; then \
	    if command -v sudo >/dev/null 2>&1; then \
	        sudo="sudo"; \
	    else \
	        echo "test-deps: need root or sudo to install:$$missing" >&2; \
	        exit 1; \
	    fi; \
	fi; \
	echo "test-deps: installing:$$missing"; \
	$$sudo env DEBIAN_FRONTEND=noninteractive apt-get -q update; \
	$$sudo env DEBIAN_FRONTEND=noninteractive apt-get -q install -y --no-install-recommends \
	    $$missing

# wrk: the load generator of bench/screening.py (open loop at a fixed rate, bench/screening.lua).
bench-deps: venv
	@if command -v wrk >/dev/null 2>&1; then \
	    echo "bench-deps: wrk already installed"; \
	    exit 0; \
	fi; \
	sudo=""; [ "$$(id -u)" -eq 0 ] || sudo="sudo"; \
	$$sudo env DEBIAN_FRONTEND=noninteractive apt-get -q update; \
	$$sudo env DEBIAN_FRONTEND=noninteractive apt-get -q install -y --no-install-recommends wrk

# ganache (a local Ethereum node for the ingest tests), from the committed lock file; `npm ci`
# runs again when node_modules is missing or older than package.json / package-lock.json.
NODE_STAMP := node_modules/.installed

node: $(NODE_STAMP)

$(NODE_STAMP): package.json package-lock.json
	@if ! command -v npm >/dev/null 2>&1; then \
	    echo "node: npm not found: installing Debian's nodejs and npm"; \
	    sudo=""; [ "$$(id -u)" -eq 0 ] || sudo="sudo"; \
	    $$sudo env DEBIAN_FRONTEND=noninteractive apt-get -q update; \
	    $$sudo env DEBIAN_FRONTEND=noninteractive apt-get -q install -y --no-install-recommends \
	        nodejs npm; \
	fi
	npm ci --no-audit --no-fund
	@touch $@

lint: venv
	$(BIN)/ruff check src tests
	$(BIN)/mypy

test: venv bytecode test-deps node
	@$(MAKE) --no-print-directory lint
	$(BIN)/pytest -n 2  # two workers: the suite waits on browsers and databases as much as on CPU

demo: export CHAINSLEUTH_DATA_DIR := $(CHAINSLEUTH_DATA_DIR)
demo: export CHAINSLEUTH_DEMO := 1
demo: venv bytecode
	$(BIN)/chainsleuth db upgrade
	$(BIN)/chainsleuth demo seed
	@if [ ! -f "$(CHAINSLEUTH_DATA_DIR)/world/world.json" ]; then \
	    $(BIN)/chainsleuth world generate --out "$(CHAINSLEUTH_DATA_DIR)/world" --preset demo; \
	fi
	$(BIN)/chainsleuth world load "$(CHAINSLEUTH_DATA_DIR)/world"
	$(BIN)/chainsleuth entities build --chain all
	$(BIN)/chainsleuth trace services --from-world "$(CHAINSLEUTH_DATA_DIR)/world"
	$(BIN)/chainsleuth labels import world "$(CHAINSLEUTH_DATA_DIR)/world"
	$(BIN)/chainsleuth exchange import "$(CHAINSLEUTH_DATA_DIR)/world/exchange"
	$(BIN)/chainsleuth risk precompute
	$(BIN)/chainsleuth cases demo-seed "$(CHAINSLEUTH_DATA_DIR)/world"
	$(BIN)/chainsleuth watch demo-seed "$(CHAINSLEUTH_DATA_DIR)/world"
	$(BIN)/chainsleuth agencies import "$(CHAINSLEUTH_DATA_DIR)/world"
	$(BIN)/chainsleuth requests import "$(CHAINSLEUTH_DATA_DIR)/world"
	$(BIN)/chainsleuth serve --host $(DEMO_HOST) --port $(DEMO_PORT)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache build dist
	find . -path ./.git -prune -o -type d -name __pycache__ -prune -exec rm -rf {} +
