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
        "channels_last": resolve_channels_last(cfg),
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
        **{"precision": resolve_precision(trainer), **overrides},
    )


def check_accelerator(accelerator: str) -> None:
    """One line instead of Lightning's 'No supported gpu backend found!' through Hydra."""
    if accelerator in ("gpu", "cuda") and not torch.cuda.is_available():
        raise ConfigError(
            f"trainer.accelerator={accelerator} (trainer=gpu, trainer=ddp) needs a GPU, but torch "
            "sees none: use trainer=cpu, trainer=ddp_cpu or trainer=default on this machine"
        )


def resolve_precision(trainer: DictConfig) -> str:
    """`trainer.precision=auto`: bf16-mixed where the hardware has bf16 matrix instructions (a
    CPU with AMX or AVX-512 BF16; a GPU that supports bf16), else float32 (an explicit setting
    is kept). Elsewhere bf16 is not chosen until its accuracy is checked there: on our AVX2-only
    EPYC it ran 1.2-1.3x float32's speed (experiments/results/precision_grid_cpu.md)."""
    from ..utils.cpu import cpu_has_fast_bf16

    precision = str(trainer.get("precision", "32-true"))
    if precision != "auto":
        return precision
    gpu = torch.cuda.is_available() and str(trainer.get("accelerator", "auto")) != "cpu"
    fast = torch.cuda.is_bf16_supported() if gpu else cpu_has_fast_bf16()
    return "bf16-mixed" if fast else "32-true"


def resolve_channels_last(cfg: DictConfig) -> bool:
    """`channels_last=auto`: where bf16 runs and the backbone does not prefer NCHW (EfficientAT's
    depthwise convolutions ran slower channels_last in bf16 on an AMX CPU; ResNets faster)."""
    from hydra.utils import get_class

    if cfg.channels_last != "auto":
        return bool(cfg.channels_last)
    target = cfg.backbone.get("_target_")
    nchw = bool(getattr(get_class(target), "prefers_nchw", False)) if target else False
    return resolve_precision(cfg.trainer).startswith("bf16") and not nchw
