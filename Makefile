# Everyday verbs. `make train` and `make test` install first when needed. `make help` lists them.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
ARGS ?=

.PHONY: help install train test test-all lint lint-imports format bench clean clean-logs

help:  ## List the verbs
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

install: $(STAMP)  ## Create .venv and install the package with its dev tools (once)

# Reinstalls only when pyproject.toml changes: a second `make install` does nothing.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

train: $(STAMP)  ## Train the main job (ESC-50 fold 1, ResNet50 + FPAM); ARGS="..." adds overrides
	$(BIN)/python -m fpam_lightning.train $(ARGS)

test: $(STAMP)  ## The quick tests (what CI runs)
	$(BIN)/python -m pytest -m "not slow" $(ARGS)

test-all: $(STAMP)  ## All tests, the slow ones too
	$(BIN)/python -m pytest $(ARGS)

lint: lint-imports  ## ruff check, format check and the import layers
	$(BIN)/ruff check fpam_lightning tests experiments
	$(BIN)/ruff format --check fpam_lightning tests experiments

lint-imports: $(STAMP)  ## The import layers of pyproject.toml (import-linter): nothing imports upward
	$(BIN)/lint-imports

format: $(STAMP)  ## ruff format and autofix
	$(BIN)/ruff format fpam_lightning tests experiments
	$(BIN)/ruff check --fix fpam_lightning tests experiments

bench: $(STAMP)  ## Speed benchmark (python -m fpam_lightning.bench)
	$(BIN)/python -m fpam_lightning.bench $(ARGS)

clean:  ## Delete tool caches only (keeps logs/, checkpoints and data)
	rm -rf .pytest_cache .ruff_cache build dist *.egg-info
	find fpam_lightning tests experiments -name __pycache__ -type d -prune -exec rm -rf {} +

clean-logs:  ## Delete logs/: every run, checkpoint and W&B offline run in it
	rm -rf logs
