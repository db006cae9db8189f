# raynomaly: `make run` (demo) and `make test` each set themselves up on a fresh machine.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEMO := .raynomaly/demo

.PHONY: setup run test bench lint clean

setup: $(STAMP)

$(STAMP): pyproject.toml requirements.lock
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 11) else "raynomaly needs Python 3.11: run make PYTHON=python3.11 ...")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.lock
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $(STAMP)

run: setup
	$(BIN)/python -m models.demo $(DEMO)
	$(BIN)/raynomaly models train --name demo --detector iforest --data $(DEMO)/train.csv --param random_state=0
	$(BIN)/raynomaly models score demo --data $(DEMO)/sample.csv
	@echo
	@echo "Next: $(BIN)/raynomaly models list | models show demo | models score demo --data FILE --output scored.parquet"

test: setup lint
	$(BIN)/python -m pytest

bench: setup
	$(BIN)/python benchmarks/bench_scoring.py

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
