# Clearway: `make run` starts the service with demo data; `make test` runs the whole suite.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PORT   ?= 8000
export CLEARWAY_TEST_POSTGRES_URL ?= postgresql+psycopg://postgres@127.0.0.1:5432/test

.PHONY: run test install lint bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

install: $(VENV)/.installed

run: install
	$(BIN)/clearway db upgrade
	$(BIN)/clearway classify prepare
	$(BIN)/clearway demo load --if-empty
	$(BIN)/clearway serve --host 127.0.0.1 --port $(PORT)

test: install
	$(BIN)/python -m pytest

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

bench: install
	$(BIN)/python bench/intake.py
	$(BIN)/python bench/tariff.py
	$(BIN)/python bench/risk.py
	$(BIN)/python bench/risk_assessment.py
	$(BIN)/python bench/corrections.py
	$(BIN)/python bench/classification.py

clean:
	rm -rf $(VENV) var/*.db build *.egg-info
