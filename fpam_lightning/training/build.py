"""Build the Lightning parts of a run, each from its own part of the config.

`train` (training/run.py) hands each builder its node: the data module gets `data`, the trainer
`trainer`, the callbacks `callbacks` (training/callbacks.py), the loggers `logger`
(training/loggers.py). The module gets its hyperparameters, gathered once from the network's and
the recipe's nodes (`module_hparams`): what its checkpoints keep, and what the run's identity
and records are read from afterwards. Shared by `train` and `bench`, so each command builds the
parts exactly as training does.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import torch
from hydra.utils import instantiate
from lightning.pytorch import Callback, Trainer
from omegaconf import DictConfig, OmegaConf

from ..data.base import FoldDataModule
from ..utils.errors import ConfigError
from .checkpoint import SafeCheckpointIO
from .module import AudioClassificationModule
from .preemption import cluster_plugins

NET_GROUPS = ["features", "backbone", "attention", "model"]  # what a checkpoint rebuilds from


def net_config(cfg: DictConfig) -> dict[str, Any]:
    """The network's part of the config, as plain data (checkpoints load with weights_only)."""
    return OmegaConf.to_container(OmegaConf.masked_copy(cfg, NET_GROUPS), resolve=True)


def module_hparams(cfg: DictConfig) -> dict[str, Any]:
    """The module's part of the config as plain data: the network, the optimiser and schedule,
    augmentation, mixup, the loss, the seed and how evaluation scores (eval.tta_crops)."""

    def plain(key: str) -> dict[str, Any]:
        return OmegaConf.to_container(cfg[key], resolve=True)

    return {
        "net": net_config(cfg),
        "optim": plain("optim"),
        "scheduler": plain("scheduler"),
        "mixup": plain("mixup"),
        "augment": plain("augment"),
        "label_smoothing": float(cfg.loss.label_smoothing),
        "seed": int(cfg.seed),
        "compile": bool(cfg.compile),
        "channels_last": bool(cfg.channels_last),
        "tta_crops": int(cfg.eval.tta_crops),
    }


def build_datamodule(data: DictConfig) -> FoldDataModule:
    """The data module of the `data` node."""
    return instantiate(data, _convert_="all")


def build_module(hparams: dict[str, Any], dm: FoldDataModule) -> AudioClassificationModule:
    """The module from its hyperparameters (`module_hparams`), sized by the data module."""
    return AudioClassificationModule(
        **hparams, num_classes=dm.num_classes, clip_samples=dm.clip_samples
    )


def build_trainer(
    trainer: DictConfig,
    output_dir: Path,
    callbacks: Iterable[Callback],
    loggers: list | None = None,
    **overrides: Any,
) -> Trainer:
    """The `trainer` node's Trainer with atomic, weights_only checkpoint I/O and cluster plugins."""
    check_accelerator(str(trainer.get("accelerator", "auto")))
    return instantiate(
        trainer,
        logger=loggers or False,
        default_root_dir=str(output_dir),
        callbacks=list(callbacks),
        plugins=[SafeCheckpointIO(), *cluster_plugins()],
        **overrides,
    )


def check_accelerator(accelerator: str) -> None:
    """One line instead of Lightning's 'No supported gpu backend found!' through Hydra."""
    if accelerator in ("gpu", "cuda") and not torch.cuda.is_available():
        raise ConfigError(
            f"trainer.accelerator={accelerator} (trainer=gpu, trainer=ddp) needs a GPU, but torch "
            "sees none: use trainer=cpu, trainer=ddp_cpu or trainer=default on this machine"
        )
