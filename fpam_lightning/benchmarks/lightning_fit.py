"""(c) This project's Lightning fit: our module, data module, callbacks and trainer config.

The parts are built exactly as training builds them (`training.build`), with no logger and no
validation during the fit. An epoch is timed from its start to the next one's (hooks and
checkpoints included).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np
import torch
from lightning.pytorch import Callback, Trainer, seed_everything
from omegaconf import DictConfig

from ..training.build import build_datamodule, build_module, build_trainer, module_hparams
from ..training.callbacks import build_callbacks
from ..training.ema import build_ema
from .common import Context

if TYPE_CHECKING:
    from ..data.base import FoldDataModule
    from ..training.module import AudioClassificationModule


def lightning_parts(
    cfg: DictConfig, callbacks: Iterable[Callback] = (), **trainer_kw
) -> tuple[Trainer, AudioClassificationModule, FoldDataModule]:
    """The (trainer, module, datamodule) that `train()` builds from `cfg`, without a logger."""
    seed_everything(int(cfg.seed), workers=True, verbose=False)  # as train() does
    dm = build_datamodule(cfg.data)
    dm.prepare_data()
    module = build_module(module_hparams(cfg), dm)
    out = Path(cfg.paths.output_dir)
    own = build_callbacks(cfg.callbacks, out, False, build_ema(cfg.ema), cfg.debug.nan_at_step)
    trainer = build_trainer(cfg.trainer, out, [*own, *callbacks], **trainer_kw)
    return trainer, module, dm


class EpochClock(Callback):
    """Wall time of each training epoch (start to start: hooks and checkpoints included)."""

    def __init__(self, sync: Callable[[], None]):
        self.sync, self.marks, self.samples = sync, [], []

    def on_train_epoch_start(self, trainer, pl_module):
        self.sync()
        self.marks.append(time.perf_counter())
        self.samples.append(0)

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        self.samples[-1] += int(batch[0].shape[0])

    def on_train_end(self, trainer, pl_module):
        self.sync()
        self.marks.append(time.perf_counter())

    def rates(self) -> list[float]:
        spans = np.diff(self.marks)
        return [n / s for n, s in zip(self.samples, spans, strict=False)]


class Fit(NamedTuple):
    """One timed fit: samples/s of each epoch (the first is warm-up), the peak memory, and the
    fitted module with its data module (for the evaluation that follows)."""

    rates: list[float]
    memory: dict[str, Any]
    module: AudioClassificationModule
    datamodule: FoldDataModule


def measure(ctx: Context, on_device: bool, tag: str) -> Fit:
    """Fit for `epochs` epochs of `steps` batches, `data.on_device` as given, run in work/tag."""
    torch.manual_seed(0)
    clock = EpochClock(ctx.sync)
    trainer, module, dm = lightning_parts(
        ctx.cfg(on_device, tag), [clock], check_val_every_n_epoch=10**6
    )
    ctx.mem.reset()
    trainer.fit(module, datamodule=dm)
    return Fit(clock.rates(), ctx.mem.read(), module, dm)
