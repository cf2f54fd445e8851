"""The whole network: waveform -> log-mel front end -> pyramid backbone -> head -> logits."""

from __future__ import annotations

import inspect
from collections.abc import Mapping

import torch
import torch.nn.functional as F
from torch import nn

from ..utils.errors import ConfigError
from .fpam import HeadOutput
from .frontend import LogMel


class AudioClassifier(nn.Module):
    """forward(waveform) -> logits, so the exported model takes raw audio."""

    def __init__(
        self,
        frontend: LogMel,
        backbone: nn.Module,
        head: nn.Module,
        head_levels: list[int],
        global_level: int | None,
    ):
        super().__init__()
        self.frontend, self.backbone, self.head = frontend, backbone, head
        pos = {lv: i for i, lv in enumerate(backbone.levels)}
        self._head_idx = [pos[lv] for lv in head_levels]
        self._global_idx = pos[global_level] if global_level is not None else None

    def classify(self, spec: torch.Tensor) -> HeadOutput:
        """A head returns logits or a HeadOutput. For one that returns logits (a user's head),
        the embedding is its last level pooled, and the attention maps are those of its
        `attention_maps()` method, where it has one."""
        feats = self.backbone(spec)
        head_feats = [feats[i] for i in self._head_idx]
        if self._global_idx is not None:
            return self.head(head_feats, feats[self._global_idx])
        out = self.head(head_feats)
        if isinstance(out, HeadOutput):
            return out
        maps_of = getattr(self.head, "attention_maps", None)
        maps = list(maps_of()) if callable(maps_of) else []
        return HeadOutput(out, head_feats[-1].mean((2, 3)), maps, head_feats[-1])

    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        return self.classify(self.frontend(wave)).logits

    @torch.no_grad()
    def explain(self, wave: torch.Tensor) -> dict[str, torch.Tensor | list[torch.Tensor]]:
        """Logits, pooled features, the spectrogram and each level's attention map at its size."""
        spec = self.frontend(wave)
        out = self.classify(spec)
        size = spec.shape[-2:]
        maps = [F.interpolate(m, size=size, mode="bilinear", align_corners=False) for m in out.maps]
        return {
            "logits": out.logits,
            "embedding": out.embedding,
            "spectrogram": spec,
            "attention_maps": maps,
        }


def component_name(node: Mapping) -> str:
    """What results.json, W&B and run names call a backbone or head: its `name`, else its class."""
    return str(node.get("name") or str(node.get("_target_", "?")).rsplit(".", 1)[-1])


# Per node: the keys the builder reads itself (not the class's), and the arguments it passes.
WIRING = {"features": (), "backbone": (), "attention": ("levels",)}
SUPPLIED = {
    "features": (),
    "backbone": ("levels",),
    "attention": ("in_channels", "num_classes", "global_channels"),
}


def class_args(node: Mapping, group: str) -> dict:
    """A `_target_` node's keys that its class takes: all but the builder's wiring keys, and
    `name` unless the class has a `name` argument (else it is a label)."""
    from hydra.utils import get_class

    takes_name = "name" in inspect.signature(get_class(str(node["_target_"]))).parameters
    drop = (*WIRING[group], *(() if takes_name else ("name",)))
    return {k: v for k, v in node.items() if k not in drop}


def _instantiate(node: Mapping, group: str, **supplied) -> nn.Module:
    """A `_target_` node built with the arguments the builder supplies."""
    from hydra.utils import instantiate

    try:
        return instantiate(class_args(node, group), **supplied, _convert_="all")
    except Exception as e:  # Hydra wraps the class's own error; keep its one line
        cause = e.__cause__ if isinstance(e.__cause__, ConfigError) else e
        if isinstance(cause, ConfigError):
            raise cause from e
        raise ConfigError(
            f"{node['_target_']} could not be built: {str(cause).strip().splitlines()[-1][:300]}"
        ) from e


def head_levels(attention: Mapping) -> list[int]:
    """The levels a head reads: its `levels` (a wiring key), Res-5 when unset."""
    return sorted(int(lv) for lv in (attention.get("levels") or [5]))


def _head_plan(attention: dict) -> tuple[list[int], int | None]:
    """The levels the head reads, and the level of a global branch, which a head class asks
    for with a `global_level(**its keys)` method (the authors' FPAM adds pooled Res-5)."""
    from hydra.utils import get_class

    levels = head_levels(attention)
    asks = getattr(get_class(attention["_target_"]), "global_level", None)
    args = {k: v for k, v in class_args(attention, "attention").items() if k != "_target_"}
    return levels, (asks(**args) if callable(asks) else None)


def build_frontend(features: Mapping) -> nn.Module:
    """The front end: a `_target_` node (EfficientAT's), or the log-mel of `LogMel`'s keys."""
    if "_target_" in features:
        return _instantiate(features, "features")
    return LogMel(**features)


def build_classifier(cfg: Mapping, num_classes: int) -> AudioClassifier:
    """Build from the composed config's `features`, `backbone` and `attention` nodes.

    `attention` (the head) and, where it has one, each other node is a `_target_` node naming
    its class (README "Your own head, backbone, data set or schedule"). The head is built with
    `in_channels` (its levels' channels, read from the backbone) and `num_classes`.
    """
    attention = dict(cfg["attention"])
    if "_target_" not in attention:
        raise ConfigError(
            f"attention={attention.get('name', '?')} has no _target_ naming its class: a config "
            "(or checkpoint) written before heads were classes; see conf/attention/"
        )
    head_levels, global_level = _head_plan(attention)
    levels = sorted(set(head_levels) | ({global_level} if global_level else set()))
    if "_target_" not in cfg["backbone"]:
        raise ConfigError(
            f"backbone={cfg['backbone'].get('name', '?')} has no _target_ naming its class: a "
            "config written before backbones were classes; see conf/backbone/"
        )
    backbone = _instantiate(cfg["backbone"], "backbone", levels=levels)
    chans = dict(zip(backbone.levels, backbone.channels, strict=True))
    extra = {"global_channels": chans[global_level]} if global_level else {}
    head = _instantiate(
        attention,
        "attention",
        in_channels=[chans[lv] for lv in head_levels],
        num_classes=num_classes,
        **extra,
    )
    return AudioClassifier(
        build_frontend(cfg["features"]), backbone, head, head_levels, global_level
    )


def count_parameters(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def count_flops(net: AudioClassifier, num_samples: int) -> int:
    """FLOPs (multiply-add = 2) of one clip through backbone and head, in eval mode.

    Counted by torch's FlopCounterMode, which sees convolutions and matrix products; the
    front end's STFT and the element-wise operations are not counted.
    """
    from torch.utils.flop_counter import FlopCounterMode

    was_training = net.training
    net.eval()
    try:
        p = next(net.parameters())
        spec = net.frontend(torch.zeros(1, int(num_samples), device=p.device))
        with torch.no_grad(), FlopCounterMode(display=False) as counter:
            net.classify(spec.to(p.dtype))
        return int(counter.get_total_flops())
    finally:
        net.train(was_training)
