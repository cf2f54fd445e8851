"""Backbones that return a pyramid of feature maps: any timm ResNet, or the tutorial CNN.

Levels are named as in ResNet papers: Res-2 (layer1) .. Res-5 (layer4). The paper's stem runs
the first convolution at stride 1 and keeps the max-pool, which gives its Table 1 shapes.
"""

from __future__ import annotations

import difflib
import logging
import os
import socket
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlparse

import timm
import torch
from torch import nn

from ..utils.conf import group_options
from ..utils.errors import ConfigError
from . import LEVELS

log = logging.getLogger(__name__)

PROXY_VARS = ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy")


def hub_reachable(timeout: float = 3.0) -> bool:
    """A quick TCP probe of the Hugging Face endpoint, so a machine without network fails fast.

    huggingface_hub itself retries a failed connection for about a minute before giving up.
    Behind a proxy the probe proves nothing, so it is skipped (assumed reachable).
    """
    if any(os.environ.get(v) for v in PROXY_VARS):
        return True
    from huggingface_hub import constants

    url = urlparse(constants.ENDPOINT)
    port = url.port or (443 if url.scheme == "https" else 80)
    try:
        with socket.create_connection((url.hostname, port), timeout=timeout):
            return True
    except OSError:
        return False


@contextmanager
def _hub_offline(offline: bool):
    """Make huggingface_hub read only its local cache (as HF_HUB_OFFLINE=1 would) while inside."""
    from huggingface_hub import constants

    before = constants.HF_HUB_OFFLINE
    constants.HF_HUB_OFFLINE = before or offline
    try:
        yield
    finally:
        constants.HF_HUB_OFFLINE = before


def create_timm(name: str, pretrained: bool, **kw) -> nn.Module:
    """timm.create_model with user-facing errors for unknown names and unreachable weights."""
    if not pretrained:
        try:
            return timm.create_model(name, pretrained=False, **kw)
        except RuntimeError as e:
            if "Unknown model" in str(e):
                raise ConfigError(f"backbone.name={name!r} is not a timm model") from e
            raise
    if name not in timm.list_models(pretrained=True) and name not in timm.list_models():
        raise ConfigError(f"backbone.name={name!r} is not a timm model")
    from huggingface_hub import constants

    offline = constants.HF_HUB_OFFLINE or not hub_reachable()
    try:
        with _hub_offline(offline):
            return timm.create_model(name, pretrained=True, **kw)
    except (OSError, ConnectionError, RuntimeError) as e:
        where = (
            "the Hugging Face hub is unreachable and they are not in the local cache"
            if offline
            else f"the download failed ({type(e).__name__}: {str(e)[:200]})"
        )
        raise ConfigError(
            f"backbone.pretrained=true: could not load timm's weights for {name}: {where}. "
            "Connect to the network once (the weights are then cached), or load a local file "
            "with backbone.checkpoint=PATH, or train from scratch with backbone.pretrained=false."
        ) from e


def weights_problems(checkpoint: str | None, pretrained: bool) -> list[str]:
    """A backbone's weights settings, before anything is built (training/config_checks)."""
    if checkpoint and pretrained:
        return [
            "backbone.pretrained=true and backbone.checkpoint are both set: "
            "choose one source of weights"
        ]
    if checkpoint and not Path(str(checkpoint)).expanduser().is_file():
        return [f"backbone.checkpoint={checkpoint} is not a file"]
    return []


def load_file_weights(backbone: nn.Module, checkpoint: str | None, **how) -> None:
    """`backbone.checkpoint`: a local state dict, names mapped by `how` (models/weights.py)."""
    if checkpoint:
        from .weights import load_backbone_checkpoint

        load_backbone_checkpoint(backbone, checkpoint, **how)


class TimmBackbone(nn.Module):
    """A timm ResNet with a 1-channel input, returning the requested Res-k feature maps.

    With `pretrained`, timm sums the ImageNet first convolution's RGB filters into one channel;
    `checkpoint` loads a local state dict instead (timm's or torchvision's ResNet names, or a
    mapping of prefixes in `checkpoint_keys`).
    """

    def __init__(
        self,
        name: str = "resnet50",
        levels: list[int] = (5,),
        pretrained: bool = False,
        paper_stem: bool = True,
        drop_path_rate: float = 0.0,
        checkpoint: str | None = None,
        checkpoint_prefix: str | None = None,
        checkpoint_keys: str | dict = "timm",
        partial: bool = False,
    ):
        super().__init__()
        problems = weights_problems(checkpoint, pretrained)
        if problems:
            raise ConfigError(problems[0])
        bad = [lv for lv in levels if lv not in LEVELS]
        if bad:
            raise ConfigError(f"levels {bad} do not exist in {name}: choose from {list(LEVELS)}")
        self.name = name
        self.levels = sorted(set(levels))
        self.body = create_timm(
            name,
            bool(pretrained),
            in_chans=1,
            features_only=True,
            out_indices=[lv - 1 for lv in self.levels],
            drop_path_rate=drop_path_rate,
        )
        names = [info["module"] for info in self.body.feature_info.get_dicts()]
        if names[-len(self.levels) :] != [f"layer{lv - 1}" for lv in self.levels]:
            raise ConfigError(
                f"backbone.name={name!r} is not a ResNet-style model "
                f"(its feature levels are {names})"
            )
        if paper_stem:
            conv = getattr(self.body, "conv1", None)
            if not isinstance(conv, nn.Conv2d):
                raise ConfigError(
                    f"backbone.paper_stem=true needs a ResNet stem with a single "
                    f"conv1; {name} has none (set backbone.paper_stem=false)"
                )
            conv.stride = (1, 1)
        self.channels = list(self.body.feature_info.channels())
        load_file_weights(
            self, checkpoint, prefix=checkpoint_prefix, keys=checkpoint_keys, partial=partial
        )

    @staticmethod
    def problems(
        name: str = "resnet50", checkpoint: str | None = None, pretrained: bool = False, **_
    ) -> list[str]:
        """An unknown timm name (with the close ones) and the weights settings, before building."""
        out = weights_problems(checkpoint, pretrained)
        if not timm.is_model(name):
            near = difflib.get_close_matches(str(name), timm.list_models(), n=5, cutoff=0.6)
            hint = f"; did you mean {', '.join(near)}?" if near else ""
            out.insert(
                0,
                f"backbone.name={name!r} is not a timm model (timm.list_models() lists them; "
                f"configs: {', '.join(group_options('backbone'))}){hint}",
            )
        return out

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        return self.body(x)
