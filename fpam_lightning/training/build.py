"""Build the three Lightning parts of a run from its composed config: data, module, trainer.

Shared by `train`, `evaluate` and `bench`, so each command builds them exactly as training does.
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
from .ckpt_io import SafeCheckpointIO
from .module import AudioClassificationModule
from .preemption import cluster_plugins

NET_GROUPS = ["features", "backbone", "attention", "model"]  # what a checkpoint rebuilds from


def net_config(cfg: DictConfig) -> dict[str, Any]:
    """The network's part of the config, as plain data (checkpoints load with weights_only)."""
    return OmegaConf.to_container(OmegaConf.masked_copy(cfg, NET_GROUPS), resolve=True)


def build_datamodule(cfg: DictConfig) -> FoldDataModule:
    return instantiate(cfg.data, _convert_="all")


def build_module(cfg: DictConfig, dm: FoldDataModule) -> AudioClassificationModule:
    def plain(key: str) -> dict[str, Any]:
        return OmegaConf.to_container(cfg[key], resolve=True)

    return AudioClassificationModule(
        net=net_config(cfg),
        num_classes=dm.num_classes,
        clip_samples=dm.clip_samples,
        optim=plain("optim"),
        scheduler=plain("scheduler"),
        mixup=plain("mixup"),
        augment=plain("augment"),
        label_smoothing=float(cfg.loss.label_smoothing),
        seed=int(cfg.seed),
        compile=bool(cfg.compile),
        channels_last=bool(cfg.channels_last),
        tta_crops=int((cfg.get("eval") or {}).get("tta_crops", 1)),
    )


def build_trainer(
    cfg: DictConfig,
    output_dir: Path,
    callbacks: Iterable[Callback],
    loggers: list | None = None,
    **overrides: Any,
) -> Trainer:
    """The configured Trainer with atomic, weights_only checkpoint I/O and cluster plugins."""
    check_accelerator(str(cfg.trainer.get("accelerator", "auto")))
    return instantiate(
        cfg.trainer,
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
