# The two commands for a fresh machine (each creates .venv and installs featsql first):
#   make demo    featsql init -> dbt seed -> dbt run -> featsql apply -> featsql list (scripts/demo.sh)
#   make test    the test suite (pytest)
# Variables: PYTHON (>= 3.10, default python3), VENV (default .venv), DEMO_DIR (default: a new
# temp dir), PYTEST_ARGS (e.g. PYTEST_ARGS="-k registry -x").

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# Re-install when the dependencies change.
STAMP := $(VENV)/.featsql-installed

.PHONY: demo test install clean

demo: $(STAMP)
	PATH="$(abspath $(BIN)):$$PATH" scripts/demo.sh $(DEMO_DIR)

test: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

install: $(STAMP)

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 10) and "featsql needs Python >= 3.10: make PYTHON=python3.11 ...")'
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -e '.[dev]'
	@touch $@

clean:
	rm -rf $(VENV) .pytest_cache
