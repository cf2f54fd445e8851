"""Lightning callbacks for training: checkpoints of the last epoch and learning-rate logging."""

from __future__ import annotations

from pathlib import Path

from hydra.utils import instantiate
from lightning.pytorch import Callback
from lightning.pytorch.callbacks import LearningRateMonitor, ModelCheckpoint
from omegaconf import DictConfig


def build_callbacks(cfg: DictConfig, output_dir: Path, has_logger: bool) -> list[Callback]:
    ccfg = cfg.get("callbacks") or {}
    callbacks: list[Callback] = [
        # The held-out fold never selects a checkpoint: keep the last epoch only.
        ModelCheckpoint(dirpath=str(output_dir / "checkpoints"), save_last=True, save_top_k=0,
                        every_n_epochs=int(ccfg.get("checkpoint_every_n_epochs", 1))),
    ]
    if has_logger:
        callbacks.append(LearningRateMonitor(logging_interval="epoch"))
    for name, spec in (ccfg.get("extra") or {}).items():
        if spec is not None and "_target_" in spec:
            callbacks.append(instantiate(spec))
        del name
    return callbacks
