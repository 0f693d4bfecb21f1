# Two entry points for a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint typecheck fmt bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

# The sample org makes the embedded local org useful at once (idempotent: loads nothing twice).
# RELAY_SF_LOCAL=1: this trial on the local org is intended (`relay doctor` fails there without it).
run: $(STAMP)
	RELAY_SF_LOCAL=1 $(BIN)/relay org seed --sample
	RELAY_SF_LOCAL=1 $(BIN)/relay serve

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy --strict relay/

test: lint typecheck
	$(BIN)/pytest

fmt: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
