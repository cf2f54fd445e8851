"""Test helpers importable from any test module (`from helpers import ...`)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from fpam_lightning.utils.conf import CONF_DIR
from fpam_lightning.utils.schema import compose

REPO = Path(__file__).resolve().parents[1]
CONF = CONF_DIR
# Real ESC-10 recordings for the tests that need them (skipped when absent).
# The full ESC-50 as its OGG release, with `make_wav.py`, beside the repository (read-only);
# tests build the official WAV layout from it into a cache folder outside the repository.
SHARED = Path(os.environ.get("FPAM_SHARED", REPO.parent / "shared"))
ESC50_OGG = SHARED / "data" / "esc50"
WAV_CACHE = Path(os.environ.get("FPAM_TEST_DATA", Path.home() / ".cache" / "fpam-data"))
MN04 = SHARED / "weights" / "mn04_as_mAP_432.pt"
AUDIOSET_LABELS = SHARED / "weights" / "audioset_class_labels_indices.csv"

# The synthetic set every quick test trains on: 4 classes x 2 clips x 5 folds of 0.5 s.
TINY_SYNTHETIC = {
    "num_classes": 4,
    "clips_per_class_per_fold": 2,
    "seconds": 0.5,
    "sample_rate": 16000,
}


def single_threaded():
    """Module fixture body: one torch thread. On a shared 2-core machine, busy-waiting threads
    make small tensor operations several times slower, never faster."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def write_wav(path: Path, data: np.ndarray, sample_rate: int, subtype: str = "PCM_16") -> Path:
    """Write a real WAV file (data: (frames,) or (frames, channels), floats in [-1, 1])."""
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, data, sample_rate, subtype=subtype)
    return path


def compose_train(overrides: list[str], output_dir: Path):
    """Compose conf/train.yaml as `python -m fpam_lightning.train` would, outputs in output_dir."""
    return compose_config("train", overrides, output_dir)


def compose_config(config_name: str, overrides: list[str], output_dir: Path):
    """Compose conf/<config_name>.yaml as its entry point would, outputs in output_dir."""
    from hydra.core.hydra_config import HydraConfig
    from omegaconf import open_dict

    cfg = compose(config_name, overrides, return_hydra_config=True)
    with open_dict(cfg):
        cfg.hydra.runtime.output_dir = str(output_dir)
        cfg.paths.output_dir = str(output_dir)
    HydraConfig().set_config(cfg)
    with open_dict(cfg):
        del cfg["hydra"]  # as in a real run: the job's config has no `hydra` node
    return cfg


def run_cli(
    module: str,
    *args: str,
    cwd: Path | None = None,
    timeout: float = 600,
    env: dict | None = None,
    check: bool = True,
) -> subprocess.CompletedProcess:
    """Run `python -m module args...` (or `python script.py args...`, the package from this
    checkout on PYTHONPATH) as a user would, returning the completed process."""
    full_env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
    command = ["-m", module]
    if module.endswith(".py"):
        command = [module]
        full_env["PYTHONPATH"] = os.pathsep.join(
            filter(None, [str(REPO), full_env.get("PYTHONPATH")])
        )
    proc = subprocess.run(
        [sys.executable, *command, *args],
        cwd=cwd or REPO,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if check and proc.returncode != 0:
        raise AssertionError(
            f"{module} {' '.join(args)} exited {proc.returncode}\n"
            f"--- stdout ---\n{proc.stdout[-4000:]}\n"
            f"--- stderr ---\n{proc.stderr[-4000:]}"
        )
    return proc


def is_writable(folder: Path) -> bool:
    try:
        with tempfile.TemporaryFile(dir=folder):
            return True
    except OSError:
        return False


@contextmanager
def unwritable(folder: Path) -> Iterator[str]:
    """Make `folder` really unwritable for the block; yields how.

    `chmod 555` first; root ignores it (tests often run as root), so then the immutable
    attribute (`chattr +i`, which binds root too). The test is skipped only when neither works.
    """
    folder.mkdir(parents=True, exist_ok=True)
    mode, immutable = folder.stat().st_mode, False
    os.chmod(folder, 0o555)
    try:
        how = "chmod 555"
        if is_writable(folder) and shutil.which("chattr"):
            done = subprocess.run(["chattr", "+i", str(folder)], capture_output=True)
            immutable, how = done.returncode == 0, "chattr +i"
        if is_writable(folder):
            pytest.skip(f"cannot make {folder} unwritable: chmod does not bind root, no chattr +i")
        yield how
    finally:
        if immutable:
            subprocess.run(["chattr", "-i", str(folder)], check=True)
        os.chmod(folder, mode)


def error_lines(text: str) -> list[str]:
    """The `error:` lines of a command's output (a user error prints exactly one)."""
    return [line for line in text.splitlines() if line.startswith("error:")]


def png_shape(path: Path) -> tuple[int, int]:
    """(height, width) of a non-empty PNG, read back by Matplotlib."""
    assert path.is_file() and path.stat().st_size > 0, path
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", path
    import matplotlib.image as mpimg

    img = mpimg.imread(path)
    assert img.std() > 0, f"{path} is blank"
    return img.shape[:2]


# A data set of odd sizes (3 classes, 3 clips per class and fold), for DDP and SLURM runs.
ODD = {"num_classes": 3, "clips_per_class_per_fold": 3, "seconds": 0.5, "sample_rate": 16000}


def odd_overrides(data_dir) -> list[str]:
    return [
        "data=synthetic",
        f"paths.data_dir={data_dir}",
        "data.num_classes=3",
        "data.clip_seconds=0.5",
        "data.batch_size=4",
        "data.num_workers=0",
        *[f"data.synthetic.{k}={v}" for k, v in ODD.items()],
        "backbone=resnet18",
        "attention.channels=16",
        "trainer.max_epochs=1",
        "trainer.enable_progress_bar=false",
        "logger=none",
    ]
