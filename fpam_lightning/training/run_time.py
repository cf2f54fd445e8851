"""One line, after the first training step on a CPU, of what the whole run will take here.

`make train` is the paper's GPU recipe (ResNet50 with the stride-1 stem, about 25 GFLOPs a clip
per training step): many hours a fold on a laptop. The run is never changed; the user is told
the estimate from the measured step and where the CPU recipe is.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from lightning.pytorch import Callback, LightningModule, Trainer

log = logging.getLogger("fpam_lightning")
CPU_RECIPE = '+experiment=esc50_pretrained_cpu (README "Pretrained backbones")'


class RunTimeEstimate(Callback):
    """On a CPU, after the first step: `steps a epoch x epochs x that step`, when over
    `warn_hours`, in one warning naming the CPU recipe."""

    def __init__(self, warn_hours: float = 2.0):
        self.warn_hours = float(warn_hours)
        self._start: float | None = None
        self.estimate_h: float | None = None

    def on_train_batch_start(self, trainer: Trainer, *args: Any) -> None:
        if self._start is None and self.estimate_h is None:
            self._start = time.perf_counter()

    def on_train_batch_end(self, trainer: Trainer, pl_module: LightningModule, *args: Any) -> None:
        if self._start is None:
            return
        step_s, self._start = time.perf_counter() - self._start, None
        if trainer.strategy.root_device.type != "cpu" or trainer.max_epochs in (None, -1):
            self.estimate_h = 0.0
            return
        epochs = trainer.max_epochs - trainer.current_epoch
        self.estimate_h = step_s * trainer.num_training_batches * epochs / 3600
        if self.estimate_h > self.warn_hours:
            log.warning(
                "on this CPU the first training step took %.1f s, so %d epochs of %d steps "
                "would take about %.0f hours; for a CPU, use %s",
                step_s,
                epochs,
                trainer.num_training_batches,
                self.estimate_h,
                CPU_RECIPE,
            )
