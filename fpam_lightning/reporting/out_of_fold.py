"""The held-out fold's predictions.csv and per-class report, written by every training run.

`OutOfFoldPredictions` (conf/callbacks/default.yaml) collects the test pass's outputs and writes
the fold's report (`fold_report.write_report`) into the run folder after `trainer.test`; the
sweep summary pools them (`fold_report.pooled_report`).
"""

from __future__ import annotations

import numpy as np
import torch
from lightning.pytorch import Callback, LightningModule, Trainer

from ..utils.run_files import prediction_rows
from .fold_report import write_report


class OutOfFoldPredictions(Callback):
    """The held-out fold's predictions.csv and per-class report, taken from the test pass itself.

    Collecting the test step's logits (rather than scoring the fold again) keeps the report in
    step with `test/acc`: same weights, same precision, same crops, and no second pass. Under DDP
    every rank holds a shard; the shards are gathered and rank 0 writes the whole fold.
    """

    def on_test_epoch_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        self._parts: list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]] = []

    def on_test_batch_end(
        self,
        trainer: Trainer,
        pl_module: LightningModule,
        outputs,
        batch,
        batch_idx: int,
        dataloader_idx: int = 0,
    ) -> None:
        probs = outputs.detach().float().softmax(-1).cpu()
        self._parts.append((torch.as_tensor(batch[2]).cpu(), batch[1].cpu(), probs))

    def on_test_epoch_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        dm = trainer.datamodule
        if self._parts:
            index, target, probs = (torch.cat(t).numpy() for t in zip(*self._parts, strict=True))
        else:  # an empty shard still joins the gather
            index, target = np.zeros(0, np.int64), np.zeros(0, np.int64)
            probs = np.zeros((0, len(dm.class_names)), np.float32)
        if trainer.world_size > 1 and torch.distributed.is_initialized():
            shards: list = [None] * trainer.world_size
            torch.distributed.all_gather_object(shards, (index, target, probs))
            index, target, probs = (np.concatenate(s) for s in zip(*shards, strict=True))
        self._parts = []
        if not trainer.is_global_zero or not len(index):
            return
        # Sorted by clip, each clip once (a padding sampler may have repeated one).
        index, first = np.unique(index, return_index=True)
        rows = prediction_rows(dm, index, target[first], probs[first], list(dm.class_names))
        write_report(
            trainer.default_root_dir, rows, list(dm.class_names), f"{dm.name} fold {dm.fold}"
        )
