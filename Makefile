# Two commands do all the set-up on a fresh machine with Python 3.11+:
#   make up     the whole system (nats-server, migrations, three services)
#   make test   lint, types and the whole test suite
# SINERGI_TEST_DATABASE_URL=postgresql+asyncpg://… make test   runs the suite on PostgreSQL.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: up demo test lint unit bench docs clean

$(STAMP): pyproject.toml contracts/pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11) and "Python 3.11+ dibutuhkan (required)")'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

up: $(STAMP)
	$(BIN)/sinergi up

# Synthetic Bontang households into the data folder of `make up` (HOUSEHOLDS=50000 for all).
demo: $(STAMP)
	$(BIN)/sinergi demo --households $(or $(HOUSEHOLDS),2000)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

test: lint
	$(BIN)/python -m pytest -q

unit: $(STAMP)
	$(BIN)/python -m pytest -q tests/unit

bench: $(STAMP)
	$(BIN)/python -m benchmarks.event_log

docs: $(STAMP)
	$(BIN)/sinergi docs

clean:
	rm -rf $(VENV) .sinergi .pytest_cache .mypy_cache .ruff_cache
