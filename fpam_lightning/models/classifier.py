"""The whole network: waveform -> log-mel front end -> pyramid backbone -> head -> logits."""

from __future__ import annotations

from collections.abc import Mapping

import torch
import torch.nn.functional as F
from torch import nn

from ..utils.errors import ConfigError
from .backbones import build_backbone
from .choices import ATTENTION_BRANCHES, ATTENTIONS, DEFAULT_LEVELS
from .fpam import GlobalPoolHead, HeadOutput, PyramidAttentionHead, resolve_switches
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


def _instantiate(node: dict, wiring: tuple[str, ...], **kwargs) -> nn.Module:
    """A `_target_` node built with the arguments the builder supplies. `name` (a label) and the
    wiring keys are the builder's, not the class's."""
    from hydra.utils import instantiate

    args = {k: v for k, v in node.items() if k not in ("name", *wiring)}
    try:
        return instantiate(args, **kwargs, _convert_="all")
    except Exception as e:  # Hydra wraps the class's own error; keep its one line
        cause = e.__cause__ if isinstance(e.__cause__, ConfigError) else e
        if isinstance(cause, ConfigError):
            raise cause from e
        raise ConfigError(
            f"{node['_target_']} could not be built: {str(cause).strip().splitlines()[-1][:300]}"
        ) from e


def _build_backbone(node: dict, levels: list[int]) -> nn.Module:
    """The backbone with these levels: a `_target_` node (EfficientAT, a user's), or by name."""
    if "_target_" in node:
        return _instantiate(node, (), levels=levels)
    node = dict(node)
    weights = {k: node.pop(k, None) for k in ("checkpoint", "checkpoint_prefix", "checkpoint_keys")}
    partial = bool(node.pop("partial", False))
    if weights["checkpoint"] and node.get("pretrained"):
        raise ConfigError(
            "backbone.pretrained=true and backbone.checkpoint are both set: "
            "choose one source of weights"
        )
    backbone = build_backbone(node.pop("name"), levels, **node)
    if weights["checkpoint"]:
        from .weights import load_backbone_checkpoint

        load_backbone_checkpoint(
            backbone,
            weights["checkpoint"],
            prefix=weights["checkpoint_prefix"],
            keys=weights["checkpoint_keys"] or "timm",
            partial=partial,
        )
    return backbone


def _head_plan(attention: dict, variant: str) -> tuple[list[int], int | None]:
    """The levels the head reads, and the level of the authors' global branch (or None)."""
    if "_target_" not in attention and ATTENTION_BRANCHES[attention.get("name", "fpam")] is None:
        return [5], None
    levels = attention.get("levels") or (DEFAULT_LEVELS if "_target_" not in attention else [5])
    levels = sorted(int(lv) for lv in levels)
    if "_target_" in attention:
        return levels, None
    return levels, (5 if resolve_switches(variant, attention)["global_branch"] else None)


def _build_head(attention: dict, model: dict, channels: list[int], num_classes: int) -> nn.Module:
    """A `_target_` head (a user's: `in_channels`, `num_classes` and its own keys), or by name."""
    if "_target_" in attention:
        return _instantiate(attention, ("levels",), in_channels=channels, num_classes=num_classes)
    kind = attention.get("name", "fpam")
    classifier = dict(model.get("classifier") or {})
    switches = resolve_switches(model.get("variant", "paper"), attention)
    if ATTENTION_BRANCHES[kind] is None:
        return GlobalPoolHead(channels, num_classes, classifier, switches["baseline_logits"])
    spatial, channel = ATTENTION_BRANCHES[kind]
    return PyramidAttentionHead(
        channels[: len(channels) - switches["global_branch"]],
        num_classes,
        channels=int(attention.get("channels", 1024)),
        spatial=spatial,
        channel=channel,
        global_channels=channels[-1] if switches["global_branch"] else None,
        classifier=classifier,
        **switches,
    )


def build_frontend(features: Mapping) -> nn.Module:
    """The front end: a `_target_` node (EfficientAT's), or the log-mel of `LogMel`'s keys."""
    features = {k: v for k, v in dict(features).items() if k != "sample_rate_hint"}
    if "_target_" in features:
        return _instantiate(features, ())
    return LogMel(**features)


def build_classifier(cfg: Mapping, num_classes: int) -> AudioClassifier:
    """Build from the composed config's `features`, `backbone`, `attention` and `model` parts.

    Each of `features`, `backbone` and `attention` may be a `_target_` node naming any class
    (README "Your own head or backbone"); without one, the package's own are chosen by `name`.
    """
    backbone_cfg, attention = dict(cfg["backbone"]), dict(cfg["attention"])
    model = dict(cfg.get("model") or {})
    kind = attention.get("name", "fpam")
    if "_target_" not in attention and kind not in ATTENTIONS:
        raise ConfigError(f"attention={kind!r}: choose one of {', '.join(ATTENTIONS)}")
    if backbone_cfg.get("name") == "tutorial_cnn" and ATTENTION_BRANCHES.get(kind) is not None:
        # Its blocks are 64..512 channels wide: an FPAM head aligned to 1024 channels would
        # hold several times the backbone's parameters, and no published result supports it.
        raise ConfigError(
            f"attention={kind} is not available on backbone=tutorial_cnn: the "
            "tutorial's CNN takes attention=none (global pooling + its dense head)"
        )
    head_levels, global_level = _head_plan(attention, model.get("variant", "paper"))
    levels = sorted(set(head_levels) | ({global_level} if global_level else set()))
    backbone = _build_backbone(backbone_cfg, levels)
    chans = dict(zip(backbone.levels, backbone.channels, strict=True))
    wanted = head_levels + ([global_level] if global_level else [])
    head = _build_head(attention, model, [chans[lv] for lv in wanted], num_classes)
    return AudioClassifier(build_frontend(cfg["features"]), backbone, head, head_levels, global_level)


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
