"""Shared fixtures: tiny real data sets on disk, Hydra composition, and the CLI as a subprocess."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from helpers import (
    CONF,
    ESC50_OGG,
    MN04,
    REPO,
    TINY_SYNTHETIC,
    WAV_CACHE,
    compose_train,
    run_cli,
    write_wav,
)

__all__ = ["CONF", "REPO", "TINY_SYNTHETIC", "compose_train", "run_cli", "write_wav"]

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


def real_wav_set(subset: str) -> Path:
    """The official WAV layout of ESC-50 or ESC-10, written once by the shared `make_wav.py` into
    a cache folder outside the repository (a file lock keeps parallel sessions to one build);
    skips when the shared recordings are absent."""
    import subprocess
    import sys

    from filelock import FileLock

    if not (ESC50_OGG / "make_wav.py").exists():
        pytest.skip(f"{ESC50_OGG} (the ESC-50 recordings) is not available")
    out = WAV_CACHE / subset
    WAV_CACHE.mkdir(parents=True, exist_ok=True)
    with FileLock(str(WAV_CACHE / f".{subset}.lock")):
        if not (out / "meta" / "esc50.csv").exists():
            flag = ["--esc10"] if subset == "esc10" else []
            subprocess.run(
                [sys.executable, str(ESC50_OGG / "make_wav.py"), str(out), *flag], check=True
            )
    return out


@pytest.fixture(scope="session")
def esc10_root() -> Path:
    """The real ESC-10 (400 clips), built from the shared ESC-50 release."""
    return real_wav_set("esc10")


@pytest.fixture(scope="session")
def esc50_root() -> Path:
    """The real ESC-50 (2000 clips), built from the shared ESC-50 release."""
    return real_wav_set("esc50")


@pytest.fixture(scope="session")
def mn04_file() -> Path:
    """EfficientAT's real mn04_as release file beside the repository; skips when absent."""
    if not MN04.is_file():
        pytest.skip(f"{MN04} (EfficientAT's mn04_as weights) is not available")
    return MN04
