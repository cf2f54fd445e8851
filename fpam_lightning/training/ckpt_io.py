"""Checkpoint files that are never half-written and never run code when read.

Lightning's TorchCheckpointIO stages a save in the system temp folder and moves it into place,
which is a copy (not an atomic rename) when /tmp and the run folder are on different file systems,
as on most clusters; and it loads with `weights_only=False` unless told otherwise. This plugin
writes to a sibling temp file, fsyncs and renames, and always loads with `weights_only=True`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch
from lightning.pytorch.plugins.io import TorchCheckpointIO

from ..utils.checkpoints import UnsafeCheckpointError, safe_torch_load
from ..utils.io import atomic_path

__all__ = ["SafeCheckpointIO", "UnsafeCheckpointError", "safe_torch_load"]


class SafeCheckpointIO(TorchCheckpointIO):
    """Atomic saves (sibling temp file + fsync + rename) and `weights_only=True` loads."""

    def save_checkpoint(self, checkpoint: dict[str, Any], path, storage_options=None) -> None:
        if storage_options is not None:
            raise TypeError("SafeCheckpointIO takes no storage_options")
        with atomic_path(path) as tmp, open(tmp, "wb") as f:
            torch.save(checkpoint, f)
            f.flush()
            os.fsync(f.fileno())

    def load_checkpoint(self, path, map_location=None, weights_only: bool | None = None):
        if not Path(path).is_file():
            raise FileNotFoundError(f"Checkpoint file not found: {path}")
        # weights_only is forced: a resume path may point at a file from anywhere.
        return safe_torch_load(path, setting="ckpt_path", map_location=map_location or "cpu")
