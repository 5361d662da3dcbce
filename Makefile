# The two commands a new user needs: `make run` and `make test`.
# Both bootstrap everything from a clean clone with ../shared beside it.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STANDARDS_SRC ?= ../shared/standards
CONFIG ?= examples/gateway.toml
EXAMPLE_PLUGIN := examples/wissel-plugin-http

# Everything the gateway writes while developing stays inside the clone.
export GATEWAY_DATA_DIR ?= $(CURDIR)/.data

.PHONY: run test check lint typecheck unit contracts standards system-packages venv clean

$(VENV)/.installed: pyproject.toml $(EXAMPLE_PLUGIN)/pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[test,dev]'
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e $(EXAMPLE_PLUGIN)
	touch $@

venv: $(VENV)/.installed

# Installs the official artifacts from ../shared/standards when it is there (where
# CONFIG's gateway looks for them); elsewhere run `gateway standards install --from DIR`
# with a folder holding the standards tree (the Peppol XSLT files have no download address).
standards: venv
	@if [ -d "$(STANDARDS_SRC)" ]; then \
		$(BIN)/gateway --config "$(CONFIG)" standards install --from "$(STANDARDS_SRC)"; \
	else \
		echo "$(STANDARDS_SRC) not found: run '$(BIN)/gateway standards install --from DIR' with a folder holding the standards tree"; \
	fi

# The gateway with the Digipoort and Peppol simulators and a printing SMTP server beside it.
# exec: the script is make's own child, so `kill` of make (which passes SIGTERM on to its
# children) reaches the script, and it stops everything it started. It then ends as the
# gateway's stop did: 0 for a stop in order, so make reports no error for it.
run: standards
	BIN=$(BIN) CONFIG=$(CONFIG) exec scripts/run-local.sh

lint: venv
	$(BIN)/ruff check gateway plugins contracts tests examples bench

typecheck: venv
	$(BIN)/mypy

# System packages the tests need (the PostgreSQL server), installed only when missing.
system-packages:
	@scripts/ensure-system-packages.sh

# Tests for a service (PostgreSQL, ...) run and fail rather than skip when it is missing.
# Two pytest workers (pytest-xdist) halve the suite's wall time on two cores. Each module
# stays on one worker, and each worker starts its own throwaway PostgreSQL server.
# TEST_WORKERS=0 runs the suite in one process.
TEST_WORKERS ?= 2
unit: standards system-packages
	GATEWAY_REQUIRE_SERVICES=1 $(BIN)/pytest -q -n $(TEST_WORKERS) --dist loadfile tests

contracts: standards
	$(BIN)/gateway contracts -- -q

test: lint typecheck unit contracts

clean:
	rm -rf $(VENV) .data .pytest_cache .mypy_cache .ruff_cache .hypothesis *.egg-info
