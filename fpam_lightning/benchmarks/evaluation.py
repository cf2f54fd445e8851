"""(d) Evaluation: scoring the test clips, bare and through Lightning's `validate`.

Bare: the bare loop's network over the test clips in memory on the device, `eval_batch_size` at a
time. Lightning: `trainer.validate` on the freshly fitted module and its data module, with the
trainer that training builds. Each is timed three times; the best run counts.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import torch
from lightning.pytorch import Callback

from .bare_loop import BareLoop, autocast_for
from .common import Context, best
from .lightning_fit import lightning_parts

if TYPE_CHECKING:
    from ..data.base import FoldDataModule
    from ..training.module import AudioClassificationModule

REPEATS = 3


class EvalClock(Callback):
    """Wall time of each validation loop, with the samples it scored."""

    def __init__(self, sync: Callable[[], None]):
        self.sync, self.rates, self._t, self._n = sync, [], 0.0, 0

    def on_validation_epoch_start(self, trainer, pl_module):
        self.sync()
        self._t, self._n = time.perf_counter(), 0

    def on_validation_batch_end(
        self, trainer, pl_module, outputs, batch, batch_idx, dataloader_idx=0
    ):
        self._n += int(batch[0].shape[0])

    def on_validation_epoch_end(self, trainer, pl_module):
        self.sync()
        self.rates.append(self._n / (time.perf_counter() - self._t))


@torch.inference_mode()
def bare_rate(loop: BareLoop, waves: torch.Tensor, batch_size: int) -> float:
    """Samples/s of one pass of the bare loop's network over `waves`, predicted classes only."""
    loop.net.eval()
    loop.sync()
    t = time.perf_counter()
    for b in range(0, len(waves), batch_size):
        with autocast_for(loop.precision, loop.device):
            loop.classify(loop.spec(waves[b : b + batch_size])).logits.argmax(-1)
    loop.sync()
    return len(waves) / (time.perf_counter() - t)


def measure_bare(ctx: Context, loop: BareLoop, test_waves: torch.Tensor) -> dict[str, Any]:
    """Phase `eval_bare`: the best of three passes over the test clips."""
    rates = [bare_rate(loop, test_waves, ctx.settings["eval_batch_size"]) for _ in range(REPEATS)]
    return {"samples_per_s": best(rates)}


def measure_lightning(
    ctx: Context, module: AudioClassificationModule, dm: FoldDataModule
) -> dict[str, Any]:
    """Phase `eval_lightning`: the best of three `validate` runs, with the peak memory."""
    clock = EvalClock(ctx.sync)
    trainer, _, _ = lightning_parts(ctx.cfg(on_device=True, tag="eval"), [clock])
    ctx.mem.reset()
    for _ in range(REPEATS):
        trainer.validate(module, datamodule=dm, verbose=False)
    return {"samples_per_s": best(clock.rates), **ctx.mem.read()}
