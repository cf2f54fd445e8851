"""A Lightning callback that draws the paper's figures while training, at chosen epochs.

`FigureLogger` scores the held-out (test) fold after the chosen epochs and saves, under
`<run>/figures/`, the confusion matrix (Figs. 7-8), the t-SNE of the pooled features (Fig. 6),
the spatial attention maps of one clip per class (Fig. 5) and `embeddings_epochNNN.npz` (for
`figures tsne` to put several epochs side by side), from the weight average when `ema` is on;
each image is also logged to W&B when a WandbLogger is attached. The figures and files are the
same the `evaluate` and `figures` commands write.

Enable with `callbacks=figures` or, for example,
`+callbacks.extra.figures._target_=fpam_lightning.plotting.callbacks.FigureLogger`.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

from lightning.pytorch import Callback, LightningModule, Trainer
from lightning.pytorch.callbacks import WeightAveraging
from lightning.pytorch.loggers import WandbLogger

from ..inference.scoring import score, write_embeddings
from ..training.lightning_internals import averaged_module
from ..utils.run_files import prediction_rows

log = logging.getLogger("fpam_lightning")


def scored_module(trainer: Trainer, module: LightningModule) -> LightningModule:
    """The weights the run is scored with: the weight average's copy when one is kept (ema),
    so an epoch's figures show what validation, test and last.ckpt see."""
    for cb in trainer.callbacks:
        average = averaged_module(cb) if isinstance(cb, WeightAveraging) else None
        if average is not None:
            return average
    return module


def _test_rows(trainer: Trainer, module: LightningModule):
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
        epoch = trainer.current_epoch + 1
        out = Path(trainer.default_root_dir) / self.subdir
        pl_module = scored_module(trainer, pl_module)
        dm, scores, rows = _test_rows(trainer, pl_module)
        names = list(dm.class_names)
        out.mkdir(parents=True, exist_ok=True)
        write_embeddings(out / f"embeddings_epoch{epoch:03d}.npz", scores, names, f"epoch {epoch}")
        images = self._draw(pl_module, dm, scores, rows, out, epoch)
        _log_images(trainer, images, trainer.global_step)
        log.info("epoch %d figures -> %s", epoch, out)

    def _draw(self, module, dm, scores, rows, out: Path, epoch: int) -> dict[str, Path]:
        from ..utils.run_files import confusion_counts
        from .attention import attention_plot, explain_clips, pick_per_class
        from .plots import confusion_figure, pretty, save, tsne_figure

        names = list(dm.class_names)
        title = f"{dm.name} fold {dm.fold}, epoch {epoch}"
        images: dict[str, Path] = {}
        if self.confusion:
            cm = confusion_counts(scores.targets, scores.predicted, len(names))
            images["figures/confusion_matrix"] = save(
                confusion_figure(cm, names, title), out / f"confusion_epoch{epoch:03d}.png"
            )
        if self.tsne and len(scores.targets) >= 3:
            images["figures/tsne"] = save(
                tsne_figure([(title, scores.embeddings, scores.targets)], names),
                out / f"tsne_epoch{epoch:03d}.png",
            )
        if self.attention and _has_spatial_attention(module):
            picked = pick_per_class(rows, names)[: self.attention_clips]
            by_file = {str(dm.audio_dir / dm.table.files[i]): i for i in range(len(dm.table))}
            items = explain_clips(module, [dm.waves[by_file[r["file"]]] for r in picked])
            for it, r in zip(items, picked, strict=True):
                it["title"] = f"{pretty(r['true_class'])} -> {pretty(r['predicted_class'])}"
            images["figures/attention"] = save(
                attention_plot(module, items), out / f"attention_epoch{epoch:03d}.png"
            )
        return images


def _has_spatial_attention(module: LightningModule) -> bool:
    """Duck typing, so a head of one's own draws too: FPAM's spatial attention modules (`sam`),
    or an `attention_maps()` method."""
    head = module.net.head
    return getattr(head, "sam", None) is not None or callable(getattr(head, "attention_maps", None))
