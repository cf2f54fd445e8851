# Everyday verbs. `make train` and `make test` install first when needed.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
ARGS ?=

.PHONY: install train test test-all lint format bench clean

install: $(STAMP)

# Reinstalls only when pyproject.toml changes: a second `make install` does nothing.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

train: $(STAMP)
	$(BIN)/python -m fpam_lightning.train $(ARGS)

test: $(STAMP)
	$(BIN)/python -m pytest -m "not slow" $(ARGS)

test-all: $(STAMP)
	$(BIN)/python -m pytest $(ARGS)

lint: $(STAMP)
	$(BIN)/ruff check fpam_lightning tests experiments
	$(BIN)/ruff format --check fpam_lightning tests experiments

format: $(STAMP)
	$(BIN)/ruff format fpam_lightning tests experiments
	$(BIN)/ruff check --fix fpam_lightning tests experiments

bench: $(STAMP)
	$(BIN)/python -m fpam_lightning.bench $(ARGS)

clean:
	rm -rf logs .pytest_cache .ruff_cache
