"""The Lightning callbacks every run gets: last-epoch checkpoints, preemption, NaN guard, LR log,
and the weight average when `ema.enabled` (built by `training.ema.build_ema`, passed in)."""

from __future__ import annotations

from pathlib import Path

from hydra.utils import instantiate
from lightning.pytorch import Callback
from lightning.pytorch.callbacks import LearningRateMonitor, ModelCheckpoint
from omegaconf import DictConfig

from .ema import EMA
from .numerics import FiniteLossGuard, InjectNaN
from .preemption import Preemption


def build_callbacks(
    ccfg: DictConfig,
    output_dir: Path,
    has_logger: bool,
    ema: EMA | None = None,
    nan_at_step: int | None = None,
) -> list[Callback]:
    """The `callbacks` node's callbacks, with the run's weight average and the NaN test hook
    (`debug.nan_at_step`) in their places."""
    callbacks: list[Callback] = [
        # The held-out fold never selects a checkpoint: keep the last epoch only, as last.ckpt,
        # rewritten every n epochs (save_last with save_top_k=0 writes it only when fit ends).
        ModelCheckpoint(
            dirpath=str(output_dir / "checkpoints"),
            filename="last",
            monitor=None,
            save_top_k=1,
            save_last=False,
            enable_version_counter=False,
            every_n_epochs=int(ccfg.get("checkpoint_every_n_epochs", 1)),
        ),
    ]
    last = str(output_dir / "checkpoints" / "last.ckpt")
    # A signal stops at the epoch end with last.ckpt saved; a NaN loss stops before the update.
    callbacks += [Preemption(last, requeue=bool(ccfg.get("requeue", True))), FiniteLossGuard(last)]
    if nan_at_step is not None:  # test hook: poison one batch to exercise the guard
        callbacks.append(InjectNaN(int(nan_at_step)))
    if ema is not None:
        callbacks.append(ema)
    if has_logger:
        callbacks.append(LearningRateMonitor(logging_interval="epoch"))
    for spec in (ccfg.get("extra") or {}).values():
        if spec is not None and "_target_" in spec:
            callbacks.append(instantiate(spec))
    return callbacks
