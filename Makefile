# Everyday verbs. `make train` and `make test` install first when needed. `make help` lists them.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
ARGS ?=

.PHONY: help install train test test-all test-slurm slurm-up slurm-down slurm-status lint \
	lint-imports format bench wheelhouse device-check clean clean-logs

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
	$(BIN)/python -m pytest -m "not slow and not slurm" $(ARGS)

test-all: $(STAMP)  ## All tests, the slow ones too
	$(BIN)/python -m pytest $(ARGS)

test-slurm: $(STAMP)  ## The cluster tests (needs a cluster: make slurm-up)
	$(BIN)/python -m pytest -m slurm $(ARGS)

slurm-up:  ## Install (apt, once), configure and start a one-node SLURM cluster here (root)
	.ci/slurm_cluster.sh up

slurm-down:  ## Stop that cluster's daemons
	.ci/slurm_cluster.sh stop

slurm-status:  ## Which of its daemons run, and sinfo
	.ci/slurm_cluster.sh status

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

# The device check (README "On a GPU"). `make wheelhouse` runs here, with the network; it needs no
# venv. `make device-check` runs on the GPU machine with its own python3 and no network.
WHEELHOUSE := experiments/device/wheelhouse
DEVICE_CHECK_DIR ?= device_check
WHEEL_TARGET := --only-binary=:all: --python-version 3.12 --implementation cp \
	$(foreach n,17 24 27 28 31 34 35,--platform manylinux_2_$(n)_x86_64) \
	--platform manylinux2014_x86_64 --platform manylinux1_x86_64

wheelhouse:  ## Wheels a bare GPU image lacks (python 3.12, x86_64) into experiments/device/wheelhouse
	rm -rf $(WHEELHOUSE)
	$(PYTHON) -m pip wheel --quiet --no-deps -w $(WHEELHOUSE) antlr4-python3-runtime==4.9.3
	$(PYTHON) -m pip download --quiet $(WHEEL_TARGET) --find-links $(WHEELHOUSE) \
		-d $(WHEELHOUSE) -r experiments/device/requirements.txt
	rm -f $(WHEELHOUSE)/numpy-*.whl  # the image's own numpy stays: its torch is built on it
	$(PYTHON) experiments/device/check_wheelhouse.py $(WHEELHOUSE)

device-check:  ## On a GPU machine: install experiments/device/wheelhouse, then the 8-minute device check
	PYTHON=$(PYTHON) sh experiments/device/check.sh $(DEVICE_CHECK_DIR) $(ARGS)

clean:  ## Delete tool caches only (keeps logs/, checkpoints and data)
	rm -rf .pytest_cache .ruff_cache build dist *.egg-info
	find fpam_lightning tests experiments -name __pycache__ -type d -prune -exec rm -rf {} +

clean-logs:  ## Delete logs/: every run, checkpoint and W&B offline run in it
	rm -rf logs
