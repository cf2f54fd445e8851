"""Load a checkpoint written by `fpam_lightning.train` for analysis, prediction and export.

Only tensors and plain containers are unpickled (`utils.checkpoints.safe_torch_load`), so a
checkpoint from an untrusted source cannot run code; the network is rebuilt from the config
saved in its `hyper_parameters` and the weights are loaded strictly.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from ..models.classifier import AudioClassifier
from ..utils.checkpoints import CheckpointError, safe_torch_load
from ..utils.errors import FpamError
from .module import AudioClassificationModule

__all__ = ["CheckpointError", "LoadedCheckpoint", "load_checkpoint", "read_checkpoint"]

REQUIRED_HPARAMS = ("net", "num_classes", "clip_samples")
log = logging.getLogger("fpam_lightning")


@dataclass
class LoadedCheckpoint:
    """The module in eval mode on `device`, plus what is needed to feed it audio."""

    module: AudioClassificationModule
    class_names: list[str]
    sample_rate: int
    clip_samples: int
    hparams: dict[str, Any]
    path: Path
    epoch: int | None

    @property
    def net(self) -> AudioClassifier:
        return self.module.net

    @property
    def clip_seconds(self) -> float:
        return self.clip_samples / self.sample_rate


def read_checkpoint(path: str | Path) -> dict[str, Any]:
    """The raw checkpoint dict, with one-line errors for the usual mistakes."""
    path = Path(str(path)).expanduser()
    ckpt = safe_torch_load(
        path, setting="ckpt_path", hint=": point it at a run's checkpoints/last.ckpt"
    )
    if not isinstance(ckpt, dict) or "state_dict" not in ckpt:
        raise CheckpointError(f"{path} is not a Lightning checkpoint (no state_dict)")
    hp = ckpt.get("hyper_parameters")
    missing = [k for k in REQUIRED_HPARAMS if not isinstance(hp, dict) or k not in hp]
    if missing:
        raise CheckpointError(
            f"{path} was not written by fpam_lightning.train: its "
            f"hyper_parameters lack {', '.join(missing)}"
        )
    return ckpt


def load_checkpoint(path: str | Path, device: str | torch.device = "cpu") -> LoadedCheckpoint:
    """Rebuild the module from the checkpoint's own config and load its weights strictly."""
    ckpt = read_checkpoint(path)
    hp = dict(ckpt["hyper_parameters"])
    net_cfg = hp["net"]
    try:
        module = AudioClassificationModule(
            net=net_cfg,
            num_classes=int(hp["num_classes"]),
            clip_samples=int(hp["clip_samples"]),
            class_names=hp.get("class_names"),
            channels_last=False,
            compile=False,
        )
        result = module.load_state_dict(ckpt["state_dict"], strict=False)
    except FpamError:
        raise
    except (RuntimeError, KeyError, TypeError, ValueError) as e:
        first = str(e).strip().splitlines()[0]
        raise CheckpointError(
            f"{path}: its weights do not fit the model its config describes ({first})"
        ) from e
    buffers = {name for name, _ in module.named_buffers()}
    bad_missing = [k for k in result.missing_keys if k not in buffers]
    if result.unexpected_keys or bad_missing:
        shown = (bad_missing + result.unexpected_keys)[:3]
        raise CheckpointError(
            f"{path}: its weights do not fit the model its config describes "
            f"(missing {len(bad_missing)}, unexpected "
            f"{len(result.unexpected_keys)} tensors, e.g. {', '.join(shown)})"
        )
    if result.missing_keys:  # buffers added to the code after the checkpoint was written
        log.warning(
            "%s lacks buffer(s) %s: using their defaults", path, ", ".join(result.missing_keys)
        )
    module.eval().to(device)
    n = int(hp["num_classes"])
    names = list(hp.get("class_names") or [f"class_{i}" for i in range(n)])
    sr = int(net_cfg["features"].get("sample_rate", 16000))
    return LoadedCheckpoint(
        module=module,
        class_names=names,
        sample_rate=sr,
        clip_samples=int(hp["clip_samples"]),
        hparams=hp,
        path=Path(path),
        epoch=ckpt.get("epoch"),
    )
