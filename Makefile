# Set-up is one idempotent target: `.venv` is created once and re-installed only
# when pyproject.toml or constraints.txt changes (a stamp file records their hash).
# constraints.txt holds the exact versions of a working environment.
PYTHON ?= python3
VENV := .venv
STAMP := $(VENV)/.canao-installed
SETUP_HASH := $(shell cat pyproject.toml constraints.txt | sha256sum | cut -c1-16)
PYTEST := $(VENV)/bin/python -m pytest -q --durations=15

.PHONY: setup demo test test-fast lint sst2 clean

setup:
	@if [ ! -x $(VENV)/bin/python ]; then $(PYTHON) -m venv $(VENV); fi
	@if [ "$$(cat $(STAMP) 2>/dev/null)" != "$(SETUP_HASH)" ]; then \
		$(VENV)/bin/pip install --quiet --upgrade pip && \
		$(VENV)/bin/pip install --quiet -c constraints.txt torch==2.13.0 && \
		$(VENV)/bin/pip install --quiet -c constraints.txt -e ".[test,teacher]" && \
		echo "$(SETUP_HASH)" > $(STAMP); \
	fi

demo: setup
	$(VENV)/bin/canao search

test: setup
	$(PYTEST) tests

test-fast: setup
	$(PYTEST) -m "not slow" tests

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

sst2: setup
	HF_HUB_OFFLINE=1 $(VENV)/bin/python experiments/canao_sst2.py $(if $(GLUE_DIR),--data-dir $(GLUE_DIR))

clean:
	rm -rf $(VENV) canao_runs
