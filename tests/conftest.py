"""Shared fixtures: tiny real data sets on disk, Hydra composition, and the CLI as a subprocess."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from helpers import CONF, ESC10, REPO, TINY_SYNTHETIC, compose_train, run_cli, write_wav

__all__ = ["CONF", "ESC10", "REPO", "TINY_SYNTHETIC", "compose_train", "run_cli", "write_wav"]

os.environ.setdefault("WANDB_MODE", "offline")
os.environ.setdefault("WANDB_SILENT", "true")
os.environ.setdefault("HF_HUB_OFFLINE", "1")


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory) -> Path:
    """A session-wide `paths.data_dir`: the tiny synthetic set is generated here once."""
    return tmp_path_factory.mktemp("data")


@pytest.fixture(scope="session")
def tiny_overrides(data_dir) -> list[str]:
    """Overrides for a seconds-long CPU run on the tiny synthetic set, with no logger."""
    syn = [f"data.synthetic.{k}={v}" for k, v in TINY_SYNTHETIC.items()]
    return [
        "data=synthetic",
        f"paths.data_dir={data_dir}",
        f"data.num_classes={TINY_SYNTHETIC['num_classes']}",
        f"data.clip_seconds={TINY_SYNTHETIC['seconds']}",
        "data.batch_size=8",
        "data.num_workers=0",
        *syn,
        "backbone=resnet18",
        "attention.channels=32",
        "trainer=cpu",
        "trainer.max_epochs=1",
        "trainer.enable_progress_bar=false",
        "logger=none",
    ]


@pytest.fixture
def esc10_root() -> Path:
    """The real ESC-10 recordings beside the repository; skips when they are absent."""
    if not (ESC10 / "meta" / "esc50.csv").exists():
        pytest.skip("../shared/data/esc10 is not available")
    return ESC10
