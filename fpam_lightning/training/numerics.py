"""Numerical faults: stop at the first non-finite loss, before it reaches the weights.

The check runs before the backward pass, so the optimiser never applies a NaN/Inf step and the
last epoch-end checkpoint stays the newest one on disk. When the batch's own waveforms hold
NaN/Inf, the message names those clips (file and CSV row) instead of suggesting a lower learning
rate. `InjectNaN` is a test hook (`debug.nan_at_step`): it poisons one training batch so the guard
can be exercised for real.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from lightning.pytorch import Callback, LightningModule, Trainer

from ..utils.errors import FpamError


class NumericalError(FpamError):
    """The loss became NaN or Inf."""


class FiniteLossGuard(Callback):
    """Raise a one-line NumericalError naming the step at the first non-finite training loss."""

    def __init__(self, checkpoint_path: str | None = None):
        self.checkpoint_path = checkpoint_path
        self._batch: Any = None
        self._batch_idx = 0

    def on_train_batch_start(
        self, trainer: Trainer, pl_module: LightningModule, batch, batch_idx: int
    ) -> None:
        self._batch = batch  # (wave, target, index): to name the clips if the loss goes bad
        self._batch_idx = batch_idx

    def on_before_backward(
        self, trainer: Trainer, pl_module: LightningModule, loss: torch.Tensor
    ) -> None:
        bad = not bool(torch.isfinite(loss.detach()).all())
        if trainer.world_size > 1:  # every rank stops together, none waits in a collective
            bad = trainer.strategy.reduce_boolean_decision(bad, all=False)
        if not bad:
            return
        kind = (
            "NaN"
            if bool(torch.isnan(loss.detach()).any())
            else "Inf"
            if bool(torch.isinf(loss.detach()).any())
            else "NaN/Inf on another rank"
        )
        batch = self._batch_idx
        ckpt = self.checkpoint_path
        kept = (
            f"the last good checkpoint is {ckpt} (resume with ckpt_path=last)"
            if ckpt and Path(ckpt).is_file()
            else "no checkpoint was saved before it"
        )
        where = f"at step {trainer.global_step} (epoch {trainer.current_epoch}, batch {batch})"
        clips = nonfinite_clips(trainer, self._batch)
        if clips:
            raise NumericalError(
                f"training loss is {kind} {where}: the input waveforms of {clips} hold NaN/Inf "
                f"samples (bad data, not the learning rate); stopped before the update, {kept}"
            )
        raise NumericalError(
            f"training loss is {kind} {where}; stopped before the update, {kept}. "
            "Rerun with trainer.detect_anomaly=true to find the operation that produced it, "
            "or lower optim.lr / set trainer.gradient_clip_val."
        )


def nonfinite_clips(trainer: Trainer, batch: Any, shown: int = 3) -> str:
    """The batch's clips whose waveform holds NaN/Inf, by file and CSV row ("" if none)."""
    if not isinstance(batch, (tuple, list)) or len(batch) < 3:
        return ""
    wave, index = batch[0], batch[2]
    if not isinstance(wave, torch.Tensor) or wave.ndim < 2:
        return ""
    bad = (~torch.isfinite(wave.detach().flatten(1)).all(dim=1)).nonzero().flatten().tolist()
    if not bad:
        return ""
    table = getattr(getattr(trainer, "datamodule", None), "table", None)
    ids = [int(index[i]) for i in bad]
    names = [table.describe(j) if table is not None else f"clip {j}" for j in ids[:shown]]
    more = f" and {len(ids) - shown} more" if len(ids) > shown else ""
    return f"{len(ids)} clip(s): {', '.join(names)}{more}"


class InjectNaN(Callback):
    """Test hook: fill the waveforms of the batch at global step `step` with NaN."""

    def __init__(self, step: int):
        self.step = int(step)

    def on_train_batch_start(
        self, trainer: Trainer, pl_module: LightningModule, batch, batch_idx: int
    ) -> None:
        if trainer.global_step == self.step:
            batch[0].fill_(float("nan"))
