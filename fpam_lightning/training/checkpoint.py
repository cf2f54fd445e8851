"""Checkpoints, in one place: how training writes and resumes them, and how evaluate, predict,
export and the figures load them.

Every file is read with `torch.load(weights_only=True)` (`utils.safe_load`, below the models,
whose backbone weights it also reads), so a checkpoint from an untrusted source cannot run code,
and a file that is not a checkpoint, or holds Python objects, is one readable line.

* Saving and resuming: `SafeCheckpointIO`. Lightning's TorchCheckpointIO stages a save in the
  system temp folder and moves it into place, which is a copy (not an atomic rename) when /tmp
  and the run folder are on different file systems, as on most clusters; and it loads with
  `weights_only=False` unless told otherwise. This plugin writes to a sibling temp file, fsyncs
  and renames, and always loads with `weights_only=True`. `check_resume` refuses a checkpoint
  of another configuration before Lightning restores it.
* Loading for analysis: `load_checkpoint` rebuilds the network from the config saved in the
  checkpoint's `hyper_parameters` and loads the weights strictly.
"""

from __future__ import annotations

import inspect
import logging
import os
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from lightning.pytorch.plugins.io import TorchCheckpointIO

from ..models.classifier import AudioClassifier
from ..utils.errors import FpamError
from ..utils.io import atomic_path
from ..utils.safe_load import CheckpointError, UnsafeCheckpointError, safe_torch_load
from .module import AudioClassificationModule

__all__ = [
    "CheckpointError",
    "LoadedCheckpoint",
    "SafeCheckpointIO",
    "UnsafeCheckpointError",
    "check_resume",
    "load_checkpoint",
    "read_checkpoint",
    "safe_torch_load",
]

REQUIRED_HPARAMS = ("net", "num_classes", "clip_samples")
# What a checkpoint's configuration is summarised by, in messages ("trained with ...").
IDENTITY_KEYS = ("backbone.name", "attention.name", "model.variant", "features.n_mels")
SHOWN_DIFFERENCES = 4
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


def as_classes(net: dict[str, Any]) -> dict[str, Any]:
    """A net config saved before heads and backbones were `_target_` nodes (chosen by `name`,
    with every option's keys in each node), with the shipped option's class filled in: the
    head's parts and levels, model.variant and model.classifier beside it."""
    from hydra.utils import get_class
    from omegaconf import OmegaConf

    from ..utils.conf import CONF_DIR

    def upgraded(group: str, option: str, fill_keys: tuple[str, ...], extra: dict) -> dict:
        node = net.get(group) or {}
        if "_target_" in node:
            return node
        shipped = OmegaConf.load(CONF_DIR / group / f"{option}.yaml")
        fill = {k: shipped[k] for k in ("_target_", *fill_keys) if k in shipped} | extra
        takes = inspect.signature(get_class(fill["_target_"])).parameters
        saved = {k: v for k, v in node.items() if k in takes and (v is not None or k not in fill)}
        kept = {"name": node["name"]} if "name" in node else {}
        return OmegaConf.to_container(OmegaConf.create({**fill, **saved, **kept}))

    model = net.get("model") or {}
    head = {"variant": model.get("variant", "paper"), "classifier": model.get("classifier")}
    att_name = (net.get("attention") or {}).get("name", "fpam")
    bb_option = (net.get("backbone") or {}).get("name", "resnet50")
    if not (CONF_DIR / "backbone" / f"{bb_option}.yaml").is_file():
        bb_option = "resnet50"  # another timm ResNet (backbone.name=resnet34): TimmBackbone too
    return {
        **net,
        "attention": upgraded("attention", att_name, ("spatial", "channel", "levels"), head),
        "backbone": upgraded("backbone", bb_option, (), {}),
    }


def load_checkpoint(path: str | Path, device: str | torch.device = "cpu") -> LoadedCheckpoint:
    """Rebuild the module from the checkpoint's own config and load its weights strictly."""
    ckpt = read_checkpoint(path)
    hp = dict(ckpt["hyper_parameters"])
    net_cfg = as_classes(hp["net"])
    try:
        module = AudioClassificationModule(
            net=net_cfg,
            num_classes=int(hp["num_classes"]),
            clip_samples=int(hp["clip_samples"]),
            class_names=hp.get("class_names"),
            tta_crops=int(hp.get("tta_crops", 1)),  # evaluate scores as the run was scored
            channels_last=False,
            compile=False,
        )
    except FpamError:
        raise
    except (RuntimeError, KeyError, TypeError, ValueError) as e:
        first = str(e).strip().splitlines()[0]
        raise CheckpointError(
            f"{path} (trained with {trained_with(hp)}): its config does not build a model ({first})"
        ) from e
    buffers = {name for name, _ in module.named_buffers()}
    mismatch = weight_mismatch(ckpt["state_dict"], module.state_dict(), optional=buffers)
    if mismatch:
        raise CheckpointError(
            f"{path} says it was trained with {trained_with(hp)}, but its weights do not fit "
            f"that model ({mismatch}): a checkpoint edited, or written by another code version"
        )
    result = module.load_state_dict(ckpt["state_dict"], strict=False)
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


# --- resuming training ----------------------------------------------------------------------------
def _flat(tree: Any, prefix: str = "") -> dict[str, Any]:
    if not isinstance(tree, dict):
        return {prefix: tree}
    out: dict[str, Any] = {}
    for k, v in tree.items():
        out.update(_flat(v, f"{prefix}{k}."))
    return {k.rstrip("."): v for k, v in out.items()}


def weight_mismatch(
    saved: dict[str, Any], own: dict[str, torch.Tensor], optional: Collection[str] = ()
) -> str:
    """How a state dict differs from a model's, in a few words ("" when it fits): missing,
    unexpected and reshaped tensors, with an example of each. `optional` may be missing."""
    missing = [k for k in own if k not in saved and k not in optional]
    unexpected = [k for k in saved if k not in own]
    shape = [
        f"{k} {list(getattr(saved[k], 'shape', []))} in the file, {list(own[k].shape)} in the model"
        for k in own
        if k in saved and getattr(saved[k], "shape", None) != own[k].shape
    ]
    parts = [
        f"{len(items)} {what}, e.g. {items[0]}"
        for what, items in (("missing", missing), ("unexpected", unexpected), ("reshaped", shape))
        if items
    ]
    return "; ".join(parts)


def run_settings(hp: dict[str, Any]) -> dict[str, Any]:
    """The settings that shape the weights, flat: the net groups, classes and clip length."""
    return {
        **_flat(hp.get("net") or {}),
        "data.num_classes": hp.get("num_classes"),
        "clip_samples": hp.get("clip_samples"),
    }


def trained_with(hp: dict[str, Any]) -> str:
    flat = run_settings(hp)
    return ", ".join(f"{k}={flat[k]}" for k in (*IDENTITY_KEYS, "data.num_classes") if k in flat)


def differences(saved: dict[str, Any], current: dict[str, Any]) -> list[str]:
    """`key=<checkpoint's> (this run: <value>)` for each setting that differs."""
    a, b = run_settings(saved), run_settings(current)
    keys = sorted(set(a) | set(b), key=lambda k: (k not in IDENTITY_KEYS, k))
    return [f"{k}={a.get(k)} (this run: {b.get(k)})" for k in keys if a.get(k) != b.get(k)]


def check_resume(path: str | Path, module: AudioClassificationModule) -> None:
    """Before `trainer.fit(ckpt_path=...)`: refuse, in one line, a checkpoint whose weights do
    not fit this run's model (another architecture, class count or front end), naming what it
    was trained with and what differs, where Lightning would end in a load_state_dict
    traceback. Weights that fit under other settings are resumed with a warning."""
    ckpt = read_checkpoint(path)
    mismatch = weight_mismatch(ckpt["state_dict"], module.state_dict())
    diffs = differences(ckpt["hyper_parameters"], dict(module.hparams))
    shown = "; ".join(diffs[:SHOWN_DIFFERENCES]) + (
        f"; and {len(diffs) - SHOWN_DIFFERENCES} more" if len(diffs) > SHOWN_DIFFERENCES else ""
    )
    if mismatch:
        raise CheckpointError(
            f"ckpt_path={path} was trained with {trained_with(ckpt['hyper_parameters'])}, "
            f"and its weights do not fit this run's model; it differs in "
            f"{shown or f'its tensors ({mismatch})'}. Resume with the checkpoint's settings, "
            "or start afresh without ckpt_path"
        )
    if diffs:
        log.warning("resuming %s, trained with other settings: %s", path, shown)


class SafeCheckpointIO(TorchCheckpointIO):
    """Atomic saves (sibling temp file + fsync + rename) and `weights_only=True` loads."""

    def save_checkpoint(self, checkpoint: dict[str, Any], path, storage_options=None) -> None:
        if storage_options is not None:
            raise TypeError("SafeCheckpointIO takes no storage_options")
        with atomic_path(path) as tmp, open(tmp, "wb") as f:
            torch.save(checkpoint, f)
            f.flush()
            os.fsync(f.fileno())

    def load_checkpoint(self, path, map_location=None, weights_only: bool | None = None):
        if not Path(path).is_file():
            raise FileNotFoundError(f"Checkpoint file not found: {path}")
        # weights_only is forced: a resume path may point at a file from anywhere.
        return safe_torch_load(path, setting="ckpt_path", map_location=map_location or "cpu")
