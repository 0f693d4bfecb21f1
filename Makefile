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
# A trial on this machine: the embedded org is intended (RELAY_SF_LOCAL=1; `relay doctor`
# fails on the local org without it), and localhost plays the reps' own mail server, which
# vouches for its senders (trusted_only), so the README's swaks example is logged.
# Production trusts no network by default and proves each sender (docs/operations.md,
# "Security model"); never copy these two settings there, and never use trusted_only
# behind an MTA that accepts the relay domain from the internet (deploy/postfix as
# shipped): it is safe only for an MTA that hands Relay just its SASL users' mail.
TRIAL := RELAY_SF_LOCAL=1 RELAY_SMTP_TRUSTED_NETWORKS=127.0.0.1/32,::1/128 RELAY_SMTP_SENDER_AUTH=trusted_only
run: $(STAMP)
	$(TRIAL) $(BIN)/relay org seed --sample
	$(TRIAL) $(BIN)/relay serve

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
