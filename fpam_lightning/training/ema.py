"""An exponential moving average of the weights (`ema.enabled`, `ema.decay`), by Lightning.

Lightning's `WeightAveraging` callback keeps the average (a torch `AveragedModel`), updates it
after every optimiser step, swaps it in for validation, copies it into the model when training
ends (so the test pass and results.json use it) and writes it as the checkpoint's
`state_dict`, with the raw weights beside it as `current_model_state` and the averaging count
as `averaging_state`. So `last.ckpt` hands evaluate, predict and export the averaged weights,
and `ckpt_path=last` restores both the average and the raw weights.

The only thing of ours is the update rule. Lightning's `EMAWeightAveraging` computes
decay * avg + (1 - decay) * w on every tensor, integer buffers included: that truncates
counters (BatchNorm's num_batches_tracked, the front end's stats_frames) and lets constant
buffers (mel filters, per-mel statistics) drift by rounding. Here floating tensors move by
`lerp`, which leaves a constant exactly constant, and integer buffers follow the model, as in
timm's ModelEmaV3.
"""

from __future__ import annotations

import functools
from typing import Any

import torch
from lightning.pytorch.callbacks import WeightAveraging

from ..utils.schema import Ema, filled


def ema_update(
    average: torch.Tensor, current: torch.Tensor, num_averaged: Any, decay: float
) -> torch.Tensor:
    """One EMA step: avg + (1 - decay) * (w - avg) for floating tensors, w for counters."""
    if not average.is_floating_point():
        return current
    return average.lerp(current.to(average.dtype), 1.0 - decay)


class EMA(WeightAveraging):
    """Lightning's weight averaging with an EMA update after every optimiser step."""

    def __init__(self, decay: float):  # its range: the schema's (utils/schema.py, Ema)
        super().__init__(avg_fn=functools.partial(ema_update, decay=float(decay)))
        self.decay = float(decay)


def build_ema(cfg: dict[str, Any] | None) -> EMA | None:
    """The `ema` config as a callback, or None when it is off."""
    cfg = filled(Ema, cfg)
    return EMA(float(cfg["decay"])) if cfg["enabled"] else None
