"""The LightningModule: the training logic (steps, loss, metrics, the per-epoch reseeding).

Batches are fixed-length waveforms. Cropping, the front end, augmentation (training/augment.py)
and mixup all run here, on the model's device, so the loader and the on-device data path see the
same batches. Randomness is reseeded from (seed, epoch) each epoch so a resumed run repeats
exactly. The optimiser and schedule come from training/optim.py. Evaluation scores the centre
crop, or with `tta_crops` > 1 the mean probability over that many fixed crops or shifts.

`infer` is the one way in from outside: a batch of clips to the test step's logits and the
pooled embeddings. `predict_step` (so `trainer.predict`), evaluate, the figure callback and
`predict` all score through it; `explain` gives the attention maps of the same centre crop.
"""

from __future__ import annotations

import logging
from typing import Any, NamedTuple

import torch
import torch.nn.functional as F
from lightning.pytorch import LightningModule, seed_everything
from timm.data import Mixup
from timm.loss import SoftTargetCrossEntropy
from torchmetrics import MeanMetric
from torchmetrics.classification import MulticlassAccuracy

from ..models import build_classifier
from ..utils.schema import Mixup as MixupSchema
from ..utils.schema import Scheduler, filled
from .augment import Augmentation, crop, views
from .optim import build_optimizer, build_scheduler, saved_configs


class ClipOutputs(NamedTuple):
    """What `infer` returns for a batch of clips."""

    logits: torch.Tensor  # (B, K) as the test step scores: centre crop, or the views' mean
    embedding: torch.Tensor  # (B, D) pooled features of the centre crop, before the classifier


def epoch_seed(seed: int, epoch: int) -> int:
    return (int(seed) * 1_000_003 + int(epoch) * 7919) % (2**31 - 1)


class AudioClassificationModule(LightningModule):
    def __init__(
        self,
        net: dict,
        num_classes: int,
        clip_samples: int,
        optim: dict | None = None,
        scheduler: dict | None = None,
        mixup: dict | None = None,
        augment: dict | None = None,
        label_smoothing: float = 0.0,
        seed: int = 0,
        class_names: list[str] | None = None,
        compile: bool = False,
        channels_last: bool = False,
        tta_crops: int = 1,
    ):
        super().__init__()
        self.save_hyperparameters()
        self.net = build_classifier(net, num_classes)
        if channels_last:
            self.net = self.net.to(memory_format=torch.channels_last)
        # The network's classify, compiled when asked: public, so the bench's bare loop times the
        # very call that training makes.
        self.classify = torch.compile(self.net.classify) if compile else self.net.classify
        self.num_classes, self.clip_samples = num_classes, clip_samples
        self.class_names = list(class_names) if class_names else None
        self.optim_cfg, self.sched_cfg = saved_configs(optim, scheduler)
        self.augmentation = Augmentation(augment)
        mix = filled(MixupSchema, mixup)
        self.mixup = None
        if mix["enabled"]:
            self.mixup = Mixup(
                mixup_alpha=float(mix["alpha"]),
                cutmix_alpha=0.0,
                prob=float(mix["prob"]),
                mode="batch",
                label_smoothing=label_smoothing,
                num_classes=num_classes,
            )
            self.soft_loss = SoftTargetCrossEntropy()
        self.label_smoothing = float(label_smoothing)
        self.tta_crops = int(tta_crops)
        metric = dict(num_classes=num_classes, average="micro")
        self.train_acc = MulticlassAccuracy(**metric)
        self.val_acc = MulticlassAccuracy(**metric)
        self.test_acc = MulticlassAccuracy(**metric)
        self.train_loss, self.val_loss, self.test_loss = MeanMetric(), MeanMetric(), MeanMetric()
        # The best epoch on the validation set (the held-out fold with data.val=test_fold): shown
        # beside the headline, never used to pick weights. Saved in checkpoints for resumes.
        self.best_val_acc, self.best_val_epoch = -1.0, -1

    # --- data on the device ------------------------------------------------------------
    def crop(self, wave: torch.Tensor, train: bool) -> torch.Tensor:
        """Random crop in training, centre crop in evaluation, to `clip_samples`."""
        return crop(wave, self.clip_samples, train)

    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        return self.net(wave)

    def _spec(self, wave: torch.Tensor) -> torch.Tensor:
        spec = self.net.frontend(wave)
        if self.hparams.channels_last:
            spec = spec.contiguous(memory_format=torch.channels_last)
        return spec

    def setup(self, stage: str) -> None:
        dm = getattr(self.trainer, "datamodule", None)
        if dm is not None and getattr(dm, "table", None) is not None:
            self.class_names = list(dm.class_names)
            self.hparams["class_names"] = self.class_names  # saved with every checkpoint

    def on_fit_start(self) -> None:
        """features.normalize=per_mel: statistics of the training folds only, once per model.

        They live in the front end's buffers, so checkpoints, resumed runs and exports keep them.
        """
        fe = self.net.frontend
        if not fe.needs_statistics:
            return
        dm = self.trainer.datamodule
        device = fe.mean.device
        n = fe.fit_statistics(self.crop(w.to(device), train=False) for w in dm.clips("train"))
        mean, std = self.trainer.strategy.broadcast((fe.mean.cpu(), fe.std.cpu()), src=0)
        fe.set_statistics(mean.to(fe.mean.device), std.to(fe.std.device), n)
        logging.getLogger(__name__).info(
            "per-mel statistics from %d training clips (%d frames)", len(dm.indices["train"]), n
        )

    # --- steps ---------------------------------------------------------------------------
    def on_train_epoch_start(self) -> None:
        seed_everything(
            epoch_seed(self.hparams.seed, self.current_epoch), workers=True, verbose=False
        )

    def training_step(self, batch, batch_idx: int) -> torch.Tensor:
        wave, y = batch[0], batch[1]
        wave = self.augmentation.wave(self.crop(wave, train=True))
        spec = self.augmentation.spec(self._spec(wave))
        if self.mixup is not None and spec.shape[0] % 2 == 0:
            spec, soft = self.mixup(spec, y)
            logits = self.classify(spec).logits
            loss = self.soft_loss(logits, soft)
        else:
            logits = self.classify(spec).logits
            loss = F.cross_entropy(logits, y, label_smoothing=self.label_smoothing)
        self.train_loss(loss.detach(), weight=y.shape[0])
        self.train_acc(logits.detach(), y)
        self.log("train/loss", loss.detach(), on_step=True, on_epoch=False, prog_bar=True)
        self.log("train/loss_epoch", self.train_loss, on_step=False, on_epoch=True)
        self.log("train/acc", self.train_acc, on_step=False, on_epoch=True, prog_bar=True)
        return loss

    def score(self, wave: torch.Tensor) -> torch.Tensor:
        """Evaluation logits: the centre crop's, or with tta_crops > 1 the log of the mean
        probability over the views (cross-entropy of these is the mean's log-loss)."""
        if self.tta_crops <= 1:
            return self.classify(self._spec(self.crop(wave, train=False))).logits
        return self._mean_of_views(wave, self.tta_crops)

    def _mean_of_views(self, wave: torch.Tensor, count: int) -> torch.Tensor:
        probs = None
        for view in views(wave, self.clip_samples, count):
            p = self.classify(self._spec(view)).logits.float().softmax(-1)
            probs = p if probs is None else probs + p
        return (probs / count).clamp_min(1e-12).log()

    @torch.no_grad()
    def infer(self, wave: torch.Tensor, views: int | None = None) -> ClipOutputs:
        """A batch of clips (B, samples) to logits and embeddings, cropped and scored as the
        test step does (`score`). `views` overrides `tta_crops`: `predict`, whose windows are
        its own crops, asks for one. The embeddings are the centre crop's either way."""
        count = self.tta_crops if views is None else int(views)
        out = self.classify(self._spec(self.crop(wave, train=False)))
        if count <= 1:
            return ClipOutputs(out.logits, out.embedding)
        return ClipOutputs(self._mean_of_views(wave, count), out.embedding)

    @torch.no_grad()
    def explain(self, wave: torch.Tensor) -> dict[str, Any]:
        """The network's `explain` (spectrogram, attention maps, logits) of the centre crop."""
        return self.net.explain(self.crop(wave, train=False))

    def _eval_step(self, batch, acc: MulticlassAccuracy, mean_loss: MeanMetric, stage: str):
        wave, y = batch[0], batch[1]
        logits = self.score(wave)
        loss = F.cross_entropy(logits, y)
        mean_loss(loss, weight=y.shape[0])
        acc(logits, y)
        self.log(f"{stage}/loss", mean_loss, on_step=False, on_epoch=True)
        self.log(f"{stage}/acc", acc, on_step=False, on_epoch=True, prog_bar=True)
        return logits

    def validation_step(self, batch, batch_idx: int):
        self._eval_step(batch, self.val_acc, self.val_loss, "val")

    def on_validation_epoch_end(self) -> None:
        if self.trainer.sanity_checking:
            return
        acc = self.val_acc.compute()
        if acc > self.best_val_acc:
            self.best_val_acc, self.best_val_epoch = float(acc), self.current_epoch
        self.log("val/acc_best", self.best_val_acc, sync_dist=False)

    def test_step(self, batch, batch_idx: int) -> torch.Tensor:
        return self._eval_step(batch, self.test_acc, self.test_loss, "test")  # for callbacks

    def predict_step(self, batch, batch_idx: int) -> dict[str, torch.Tensor | None]:
        """`infer` of a batch (wave, target[, index]) or of bare waves, for `trainer.predict`."""
        is_tuple = isinstance(batch, (list, tuple))
        out = self.infer(batch[0] if is_tuple else batch)
        index = batch[2] if is_tuple and len(batch) > 2 else None
        return {"logits": out.logits, "embedding": out.embedding, "index": index}

    # --- optimisation ----------------------------------------------------------------
    def configure_optimizers(self) -> dict[str, Any]:
        opt = build_optimizer(self.parameters(), self.optim_cfg)
        interval = filled(Scheduler, self.sched_cfg)["interval"]
        steps = 1
        if interval == "step":
            epochs = max(1, int(self.trainer.max_epochs))
            steps = max(1, int(self.trainer.estimated_stepping_batches) // epochs)
        sched = build_scheduler(opt, self.sched_cfg, self.trainer.max_epochs, steps)
        if sched is None:
            return {"optimizer": opt}
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": interval}}

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        checkpoint["best_val"] = {"acc": self.best_val_acc, "epoch": self.best_val_epoch}

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        best = checkpoint.get("best_val", {})
        self.best_val_acc, self.best_val_epoch = best.get("acc", -1.0), best.get("epoch", -1)
