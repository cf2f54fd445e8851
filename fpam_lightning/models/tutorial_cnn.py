"""The UrbanSound8K tutorial's CNN (method.md section 2) as a pyramid backbone.

Block k (64, 128, 256, 512 channels) stands in for level Res-(k+1), so the same heads apply.
"""

from __future__ import annotations

import torch
from torch import nn

from ..utils.errors import ConfigError
from . import LEVELS
from .backbones import load_file_weights, weights_problems


def conv_block(cin: int, cout: int, dropout: float) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, padding=1),
        nn.BatchNorm2d(cout),
        nn.ReLU(inplace=True),
        nn.Conv2d(cout, cout, 3, padding=1),
        nn.ReLU(inplace=True),
        nn.Dropout(dropout),
        nn.AvgPool2d(2),
    )


class TutorialCNN(nn.Module):
    WIDTHS = (64, 128, 256, 512)

    def __init__(
        self,
        levels: list[int] = (5,),
        dropout: float = 0.5,
        pretrained: bool = False,
        checkpoint: str | None = None,
        checkpoint_prefix: str | None = None,
        checkpoint_keys: str | dict = "timm",
        partial: bool = False,
    ):
        super().__init__()
        if pretrained:
            raise ConfigError(
                "backbone=tutorial_cnn has no published weights: "
                "use backbone.checkpoint=PATH or train from scratch"
            )
        bad = [lv for lv in levels if lv not in LEVELS]
        if bad:
            raise ConfigError(
                f"levels {bad} do not exist in tutorial_cnn: choose from {list(LEVELS)}"
            )
        if sorted(set(levels)) != [5]:
            # Its blocks are 64..512 channels wide: an FPAM head aligned to 1024 channels would
            # hold several times the backbone's parameters, and no published result supports it.
            raise ConfigError(
                f"attention levels {sorted(set(levels))} are not available on "
                "backbone=tutorial_cnn: the tutorial's CNN takes attention=none (global pooling "
                "+ its dense head)"
            )
        self.levels = [5]
        widths = (1, *self.WIDTHS)
        self.blocks = nn.ModuleList(conv_block(widths[i], widths[i + 1], dropout) for i in range(4))
        self.channels = [self.WIDTHS[lv - 2] for lv in self.levels]
        load_file_weights(
            self, checkpoint, prefix=checkpoint_prefix, keys=checkpoint_keys, partial=partial
        )

    @staticmethod
    def problems(checkpoint: str | None = None, pretrained: bool = False, **_) -> list[str]:
        return weights_problems(checkpoint, pretrained)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        out = []
        for i, block in enumerate(self.blocks):
            x = block(x)
            if i + 2 in self.levels:
                out.append(x)
        return out
