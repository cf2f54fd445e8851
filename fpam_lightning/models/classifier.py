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
        feats = self.backbone(spec)
        g = feats[self._global_idx] if self._global_idx is not None else None
        return self.head([feats[i] for i in self._head_idx], g)

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


def _backbone_and_head(
    name: str, backbone_cfg: dict, attention: dict, model: dict, num_classes: int
) -> tuple[nn.Module, nn.Module, list[int], int | None]:
    """The backbone with the levels its head needs, and the head (baseline or pyramid)."""
    kind = attention.get("name", "fpam")
    classifier = dict(model.get("classifier") or {})
    switches = resolve_switches(model.get("variant", "paper"), attention)
    if ATTENTION_BRANCHES[kind] is None:
        backbone = build_backbone(name, [5], **backbone_cfg)
        head = GlobalPoolHead(
            backbone.channels, num_classes, classifier, switches["baseline_logits"]
        )
        return backbone, head, [5], None
    spatial, channel = ATTENTION_BRANCHES[kind]
    head_levels = sorted(int(lv) for lv in attention.get("levels", DEFAULT_LEVELS))
    global_level = 5 if switches["global_branch"] else None
    levels = sorted(set(head_levels) | ({5} if global_level else set()))
    backbone = build_backbone(name, levels, **backbone_cfg)
    chans = dict(zip(backbone.levels, backbone.channels, strict=True))
    head = PyramidAttentionHead(
        [chans[lv] for lv in head_levels],
        num_classes,
        channels=int(attention.get("channels", 1024)),
        spatial=spatial,
        channel=channel,
        global_channels=chans.get(5) if global_level else None,
        classifier=classifier,
        **switches,
    )
    return backbone, head, head_levels, global_level


def build_classifier(cfg: Mapping, num_classes: int) -> AudioClassifier:
    """Build from the composed config's `features`, `backbone`, `attention` and `model` parts."""
    features, backbone_cfg = dict(cfg["features"]), dict(cfg["backbone"])
    attention, model = dict(cfg["attention"]), dict(cfg.get("model") or {})
    kind = attention.get("name", "fpam")
    if kind not in ATTENTIONS:
        raise ConfigError(f"attention={kind!r}: choose one of {', '.join(ATTENTIONS)}")
    features.pop("sample_rate_hint", None)
    frontend = LogMel(**features)

    name = backbone_cfg.pop("name")
    weights = {
        k: backbone_cfg.pop(k, None)
        for k in ("checkpoint", "checkpoint_prefix", "checkpoint_keys", "partial")
    }
    if weights["checkpoint"] and backbone_cfg.get("pretrained"):
        raise ConfigError(
            "backbone.pretrained=true and backbone.checkpoint are both set: "
            "choose one source of weights"
        )
    if name == "tutorial_cnn" and ATTENTION_BRANCHES[kind] is not None:
        # Its blocks are 64..512 channels wide: an FPAM head aligned to 1024 channels would
        # hold several times the backbone's parameters, and no published result supports it.
        raise ConfigError(
            f"attention={kind} is not available on backbone=tutorial_cnn: the "
            "tutorial's CNN takes attention=none (global pooling + its dense head)"
        )
    backbone, head, head_levels, global_level = _backbone_and_head(
        name, backbone_cfg, attention, model, num_classes
    )
    if weights["checkpoint"]:
        from .weights import load_backbone_checkpoint

        load_backbone_checkpoint(
            backbone,
            weights["checkpoint"],
            prefix=weights["checkpoint_prefix"],
            keys=weights["checkpoint_keys"] or "timm",
            partial=bool(weights["partial"]),
        )
    return AudioClassifier(frontend, backbone, head, head_levels, global_level)


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
