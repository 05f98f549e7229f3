# The venv is built with the first of these that is Python 3.11 or newer; `make PYTHON=/path/to/python`
# overrides the search. (Windows without make: see README, "On Windows".)
PYTHON_CANDIDATES := python3.13 python3.12 python3.11 python3 python
PYTHON ?= $(firstword $(foreach p,$(PYTHON_CANDIDATES),$(shell command -v $(p) >/dev/null 2>&1 \
	&& $(p) -c 'import sys; sys.exit(sys.version_info < (3, 11))' >/dev/null 2>&1 && echo $(p))))
NO_PYTHON := No Python 3.11 or newer found (tried $(PYTHON_CANDIDATES)): install Python 3.11+ \
	(python.org, or e.g. apt install python3.11 / brew install python@3.11), or run make PYTHON=/path/to/python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
BENCH_STAMP := $(VENV)/.bench-installed

.PHONY: demo test lint format clean bench

$(STAMP): pyproject.toml
	$(if $(PYTHON),,$(error $(NO_PYTHON)))
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

# The demo imports the samples into an embedded sandbox whose records persist in out/sandbox.db, so a
# second `make demo` finds every record again and reports `updated` instead of `created`. --full sends every
# record even when the journal knows it is unchanged: without it, a re-run sends nothing and says `unchanged`.
demo: $(STAMP)
	$(BIN)/contacts-pipeline import samples/contacts.csv --sandbox --sandbox-state out/sandbox.db --full \
		--journal out/journal.db --contact-schema "Demo contact fields" --report out/reconciliation.csv

# One worker per core, at most 8 (pytest-xdist; each worker starts its own sandboxes); `$(BIN)/pytest FILE`
# runs a file alone, in one process.
test: $(STAMP)
	$(BIN)/pytest -n auto --maxprocesses 8

# Figures, not pass/fail: generates data in bench/.data/ (cached), prints every figure and writes
# bench/results.json. The bench extra adds Faker for the generator. See bench/README.md. The 10M-row
# figures (a 3.4 GB file) only when asked: make bench BENCH_ARGS="--sizes 100000,1000000,10000000"
BENCH_ARGS ?=
bench: $(BENCH_STAMP)
	cd bench && PYTHONHASHSEED=0 ../$(BIN)/python run.py $(BENCH_ARGS)

$(BENCH_STAMP): $(STAMP)
	$(BIN)/pip install --quiet -e '.[dev,bench]'
	touch $(BENCH_STAMP)

# ruff everywhere; mypy on pipeline/ (its settings are in pyproject.toml).
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

clean:
	rm -rf $(VENV) out .pytest_cache .ruff_cache
