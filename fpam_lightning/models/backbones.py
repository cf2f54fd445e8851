"""Backbones that return a pyramid of feature maps: any timm ResNet, or the tutorial CNN.

Levels are named as in ResNet papers: Res-2 (layer1) .. Res-5 (layer4). The paper's stem runs
the first convolution at stride 1 and keeps the max-pool, which gives its Table 1 shapes.
"""

from __future__ import annotations

import timm
import torch
from torch import nn

from ..errors import ConfigError

LEVELS = (2, 3, 4, 5)


class TimmBackbone(nn.Module):
    """A timm ResNet with a 1-channel input, returning the requested Res-k feature maps."""

    def __init__(self, name: str = "resnet50", levels: list[int] = (5,), pretrained: bool = False,
                 paper_stem: bool = True, drop_path_rate: float = 0.0):
        super().__init__()
        bad = [lv for lv in levels if lv not in LEVELS]
        if bad:
            raise ConfigError(f"levels {bad} do not exist in {name}: choose from {list(LEVELS)}")
        self.levels = sorted(set(levels))
        try:
            self.body = timm.create_model(
                name, pretrained=pretrained, in_chans=1, features_only=True,
                out_indices=[lv - 1 for lv in self.levels], drop_path_rate=drop_path_rate,
            )
        except RuntimeError as e:
            if "Unknown model" in str(e):
                raise ConfigError(f"backbone.name={name!r} is not a timm model") from e
            raise
        if paper_stem:
            conv = self.body.conv1 if hasattr(self.body, "conv1") else None
            if not isinstance(conv, nn.Conv2d):
                raise ConfigError(f"backbone.paper_stem=true needs a ResNet stem; {name} has none")
            conv.stride = (1, 1)
        self.channels = list(self.body.feature_info.channels())

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        return self.body(x)


def build_backbone(name: str, levels: list[int], **kw) -> nn.Module:
    if name == "tutorial_cnn":
        from .tutorial_cnn import TutorialCNN

        return TutorialCNN(levels=levels, **{k: v for k, v in kw.items() if k in ("dropout",)})
    kw.pop("dropout", None)
    return TimmBackbone(name, levels, **kw)
