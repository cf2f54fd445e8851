"""Lightning callbacks that draw the paper's figures while training, at chosen epochs.

`FigureLogger` scores the held-out (test) fold after the chosen epochs and saves, under
`<run>/figures/`, the confusion matrix (Figs. 7-8), the t-SNE of the pooled features (Fig. 6),
the spatial attention maps of one clip per class (Fig. 5) and `embeddings_epochNNN.npz` (for
`figures tsne` to put several epochs side by side); each image is also logged to W&B when a
WandbLogger is attached. `OutOfFoldPredictions` writes predictions.csv and the per-class report
of the held-out fold after `trainer.test`, for `evaluate.pooled_report`.

Enable with `callbacks=figures` or, for example,
`+callbacks.extra.figures._target_=fpam_lightning.training.figure_callbacks.FigureLogger`.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from lightning.pytorch import Callback, LightningModule, Trainer
from lightning.pytorch.loggers import WandbLogger

log = logging.getLogger("fpam_lightning")


def _test_rows(trainer: Trainer, module: LightningModule):
    from ..evaluate import prediction_rows, score

    dm = trainer.datamodule
    scores = score(module, dm.test_dataloader())
    rows = prediction_rows(dm, scores.indices, scores.targets, scores.probs, list(dm.class_names))
    return dm, scores, rows


def _log_images(trainer: Trainer, images: dict[str, Path], step: int) -> None:
    for logger in trainer.loggers:
        if isinstance(logger, WandbLogger):
            for key, path in images.items():
                logger.log_image(key=key, images=[str(path)], step=step)


class FigureLogger(Callback):
    """Figures of the held-out fold after each epoch in `epochs` (1-based) and the last one."""

    def __init__(
        self,
        epochs: Sequence[int] = (1,),
        last: bool = True,
        tsne: bool = True,
        confusion: bool = True,
        attention: bool = True,
        attention_clips: int = 10,
        subdir: str = "figures",
    ):
        self.epochs = {int(e) for e in epochs}
        self.last, self.tsne, self.confusion = last, tsne, confusion
        self.attention, self.attention_clips, self.subdir = attention, attention_clips, subdir

    def _wanted(self, trainer: Trainer) -> bool:
        done = trainer.current_epoch + 1
        return done in self.epochs or (self.last and done == trainer.max_epochs)

    def on_train_epoch_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        if not trainer.is_global_zero or trainer.sanity_checking or not self._wanted(trainer):
            return
        from sklearn.metrics import confusion_matrix

        from ..figures import (
            attention_figure,
            confusion_figure,
            pick_per_class,
            pretty,
            save,
            tsne_figure,
        )

        epoch = trainer.current_epoch + 1
        out = Path(trainer.default_root_dir) / self.subdir
        dm, scores, rows = _test_rows(trainer, pl_module)
        names = list(dm.class_names)
        title = f"{dm.name} fold {dm.fold}, epoch {epoch}"
        images: dict[str, Path] = {}
        out.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(
            out / f"embeddings_epoch{epoch:03d}.npz",
            embeddings=scores.embeddings,
            targets=scores.targets,
            predicted=scores.predicted,
            class_names=np.array(names),
            title=np.array(f"epoch {epoch}"),
        )
        if self.confusion:
            cm = confusion_matrix(scores.targets, scores.predicted, labels=range(len(names)))
            images["figures/confusion_matrix"] = save(
                confusion_figure(cm, names, title), out / f"confusion_epoch{epoch:03d}.png"
            )
        if self.tsne and len(scores.targets) >= 3:
            images["figures/tsne"] = save(
                tsne_figure([(title, scores.embeddings, scores.targets)], names),
                out / f"tsne_epoch{epoch:03d}.png",
            )
        if (
            self.attention
            and pl_module.net.head.__class__.__name__ == "PyramidAttentionHead"
            and getattr(pl_module.net.head, "sam", None) is not None
        ):
            images["figures/attention"] = save(
                self._attention(
                    pl_module, dm, rows, names, pick_per_class, pretty, attention_figure
                ),
                out / f"attention_epoch{epoch:03d}.png",
            )
        _log_images(trainer, images, trainer.global_step)
        log.info("epoch %d figures -> %s", epoch, out)

    def _attention(self, module, dm, rows, names, pick_per_class, pretty, attention_figure):
        import torch

        picked = pick_per_class(rows, names)[: self.attention_clips]
        by_file = {str(dm.audio_dir / dm.table.files[i]): i for i in range(len(dm.table))}
        items = []
        was_training = module.training
        module.eval()
        try:
            for r in picked:
                wave = torch.from_numpy(np.array(dm.waves[by_file[r["file"]]], dtype=np.float32))
                out = module.net.explain(module.crop(wave[None].to(module.device), train=False))
                items.append(
                    {
                        "spectrogram": out["spectrogram"][0, 0].cpu().numpy(),
                        "maps": [m[0, 0].cpu().numpy() for m in out["attention_maps"]],
                        "title": f"{pretty(r['true_class'])} -> {pretty(r['predicted_class'])}",
                    }
                )
        finally:
            module.train(was_training)
        net_cfg = module.hparams["net"]
        levels = sorted(int(v) for v in net_cfg["attention"].get("levels", (3, 4, 5)))
        return attention_figure(
            items, module.net.frontend.sample_rate, module.net.frontend.hop_length, levels
        )


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
        from ..evaluate import prediction_rows, write_report

        # Sorted by clip, each clip once (a padding sampler may have repeated one).
        index, first = np.unique(index, return_index=True)
        rows = prediction_rows(dm, index, target[first], probs[first], list(dm.class_names))
        write_report(
            trainer.default_root_dir, rows, list(dm.class_names), f"{dm.name} fold {dm.fold}"
        )
