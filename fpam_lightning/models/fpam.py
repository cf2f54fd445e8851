"""The feature pyramid attention module (FPAM) and its ablations, as classification heads.

One module serves every reading: the paper's equations, the authors' code, and each attention
part alone. Where they differ there is a named switch; `VARIANTS` holds each reading's settings
and an explicit switch in the config overrides its variant.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from ..utils.errors import ConfigError

VARIANTS: dict[str, dict] = {
    # method.md section 1, the paper's equations.
    "paper": dict(
        align_kernel=1,
        align_act=False,
        channel_pool="maxavg",
        channel_branch_norm=False,
        channel_norm=False,
        downsample="avgpool",
        upsample="bilinear",
        post_norm=False,
        global_branch=False,
        baseline_logits="plain",
    ),
    # method.md "What the authors' public code does differently".
    "authors": dict(
        align_kernel=3,
        align_act=True,
        channel_pool="avg",
        channel_branch_norm=True,
        channel_norm=True,
        downsample="nearest",
        upsample="nearest",
        post_norm=True,
        global_branch=True,
        # Their baseline (attention=none) squeezes its logits through a sigmoid and a clamp to
        # [1e-7, 1 - 1e-7] before the cross-entropy: it handicaps the baseline of their Table 2.
        baseline_logits="sigmoid_clamp",
    ),
}
SWITCHES = tuple(VARIANTS["paper"])


def resolve_switches(variant: str, overrides: dict | None = None) -> dict:
    """The variant's switches with any explicit (non-null) override applied."""
    if variant not in VARIANTS:
        raise ConfigError(f"model.variant={variant!r}: choose one of {', '.join(VARIANTS)}")
    out = dict(VARIANTS[variant])
    for k, v in (overrides or {}).items():
        if k in SWITCHES and v is not None:
            out[k] = v
    return out


@dataclass
class HeadOutput:
    logits: torch.Tensor
    embedding: torch.Tensor  # the pooled vector before the classifier (for t-SNE)
    maps: list[torch.Tensor] = field(default_factory=list)  # spatial attention F_s per level
    fused: torch.Tensor | None = None  # the map that is pooled: F_fpam, or the last level


def conv_bn(cin: int, cout: int, k: int, act: bool) -> nn.Sequential:
    layers = [nn.Conv2d(cin, cout, k, padding=k // 2, bias=False), nn.BatchNorm2d(cout)]
    return nn.Sequential(*layers, nn.ReLU(inplace=True)) if act else nn.Sequential(*layers)


class Classifier(nn.Module):
    """Linear classifier, or the tutorial's dense head when `hidden` is set."""

    def __init__(
        self,
        cin: int,
        num_classes: int,
        hidden: int | None = None,
        dropout: float = 0.0,
        hidden_dropout: float = 0.0,
    ):
        super().__init__()
        if hidden:
            self.net = nn.Sequential(
                nn.Dropout(dropout),
                nn.Linear(cin, hidden),
                nn.PReLU(),
                nn.BatchNorm1d(hidden),
                nn.Dropout(hidden_dropout),
                nn.Linear(hidden, num_classes),
            )
        else:
            self.net = nn.Sequential(nn.Dropout(dropout), nn.Linear(cin, num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class SpatialAttention(nn.Module):
    """SAM: [max, mean over channels, conv3x3, conv1x1] -> conv3x3 -> sigmoid -> F * F_s."""

    def __init__(self, channels: int):
        super().__init__()
        self.conv3 = nn.Conv2d(channels, 1, 3, padding=1)
        self.conv1 = nn.Conv2d(channels, 1, 1)
        self.fuse = nn.Conv2d(4, 1, 3, padding=1)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        stats = torch.cat(
            [x.amax(1, keepdim=True), x.mean(1, keepdim=True), self.conv3(x), self.conv1(x)], 1
        )
        s = torch.sigmoid(self.fuse(stats))
        return x * s, s


class ChannelAttention(nn.Module):
    """PCA: concat(conv1x1, conv3x3) of the fused levels -> global pool -> sigmoid, a C-vector."""

    def __init__(
        self,
        cin: int,
        channels: int,
        pool: str = "maxavg",
        branch_norm: bool = False,
        norm: bool = False,
    ):
        super().__init__()
        if pool not in ("maxavg", "avg"):
            raise ConfigError(f"attention.channel_pool={pool!r}: choose maxavg or avg")
        half = channels // 2
        if branch_norm:
            self.b1, self.b3 = conv_bn(cin, half, 1, True), conv_bn(cin, channels - half, 3, True)
        else:
            self.b1 = nn.Conv2d(cin, half, 1)
            self.b3 = nn.Conv2d(cin, channels - half, 3, padding=1)
        self.pool = pool
        self.norm = nn.BatchNorm1d(channels) if norm else nn.Identity()

    def forward(self, fused: torch.Tensor) -> torch.Tensor:
        f = torch.cat([self.b1(fused), self.b3(fused)], 1)
        v = f.mean((2, 3))
        if self.pool == "maxavg":
            v = v + f.amax((2, 3))
        return torch.sigmoid(self.norm(v))


class PyramidAttentionHead(nn.Module):
    """FPAM over pyramid levels (fine to coarse); `spatial`/`channel` pick the ablation
    (conf/attention: fpam, psa, pca, and pyramid with neither)."""

    def __init__(
        self,
        in_channels: list[int],
        num_classes: int,
        channels: int = 1024,
        spatial: bool = True,
        channel: bool = True,
        global_channels: int | None = None,
        classifier: dict | None = None,
        variant: str = "paper",
        align_kernel: int | None = None,
        align_act: bool | None = None,
        channel_pool: str | None = None,
        channel_branch_norm: bool | None = None,
        channel_norm: bool | None = None,
        downsample: str | None = None,
        upsample: str | None = None,
        post_norm: bool | None = None,
        global_branch: bool | None = None,
    ):
        """Each switch left None follows `variant` (VARIANTS)."""
        switches = {k: v for k, v in locals().items() if k in SWITCHES}
        super().__init__()
        problems = PyramidAttentionHead.problems(channels)
        if problems:
            raise ConfigError("; ".join(problems))
        sw = resolve_switches(variant, switches)
        self.sw, self.spatial, self.channel = sw, spatial, channel
        if sw["downsample"] not in ("avgpool", "nearest"):
            raise ConfigError(f"attention.downsample={sw['downsample']!r}: avgpool or nearest")
        if sw["upsample"] not in ("bilinear", "nearest"):
            raise ConfigError(f"attention.upsample={sw['upsample']!r}: bilinear or nearest")
        n = len(in_channels)
        self.mid = n // 2
        self.align = nn.ModuleList(
            conv_bn(c, channels, sw["align_kernel"], sw["align_act"]) for c in in_channels
        )
        self.sam = (
            nn.ModuleList(SpatialAttention(channels) for _ in in_channels) if spatial else None
        )
        self.pca = (
            ChannelAttention(
                n * channels,
                channels,
                sw["channel_pool"],
                sw["channel_branch_norm"],
                sw["channel_norm"],
            )
            if channel
            else None
        )
        self.post = nn.BatchNorm2d(channels) if sw["post_norm"] else None
        self.post_vec = nn.BatchNorm1d(channels) if sw["post_norm"] else None
        self.global_branch = None
        if sw["global_branch"]:
            if not global_channels:
                raise ConfigError("the authors' global-feature branch needs the Res-5 features")
            self.global_branch = nn.Sequential(
                nn.Linear(global_channels, channels),
                nn.ReLU(inplace=True),
                nn.BatchNorm1d(channels),
            )
        self.classifier = Classifier(channels, num_classes, **(classifier or {}))

    @staticmethod
    def problems(channels=1024, **_) -> list[str]:
        """The aligned width, before anything is built (training/config_checks)."""
        if isinstance(channels, int) and not isinstance(channels, bool) and channels > 0:
            return []
        return [f"attention.channels={channels!r} must be a positive integer"]

    @staticmethod
    def global_level(variant: str = "paper", global_branch: bool | None = None, **_) -> int | None:
        """The level whose pooled features the authors' global branch adds (Res-5), or None.
        The model builder asks a head class for it, so the backbone also returns that level."""
        on = resolve_switches(variant, {"global_branch": global_branch})["global_branch"]
        return 5 if on else None

    def _resample(self, x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
        if tuple(x.shape[-2:]) == size:
            return x
        finer = x.shape[-2] >= size[0] and x.shape[-1] >= size[1]
        if finer and self.sw["downsample"] == "avgpool":
            return F.adaptive_avg_pool2d(x, size)
        if not finer and self.sw["upsample"] == "bilinear":
            return F.interpolate(x, size=size, mode="bilinear", align_corners=False)
        return F.interpolate(x, size=size, mode="nearest")

    def forward(self, feats: list[torch.Tensor], global_feat: torch.Tensor | None = None):
        xs = [align(f) for align, f in zip(self.align, feats, strict=True)]
        maps = []
        if self.sam is not None:
            outs = [sam(x) for sam, x in zip(self.sam, xs, strict=True)]
            xs, maps = [o[0] for o in outs], [o[1] for o in outs]
        size = tuple(xs[self.mid].shape[-2:])
        xs = [self._resample(x, size) for x in xs]
        if self.pca is not None:
            ca = self.pca(torch.cat(xs, 1))[:, :, None, None]
            xs = [ca * x for x in xs]
        fused = torch.stack(xs, 0).mean(0)
        if self.post is not None:
            v = self.post_vec(torch.relu(self.post(fused).mean((2, 3))))
        else:
            v = fused.mean((2, 3))
        if self.global_branch is not None:
            v = v + self.global_branch(global_feat.mean((2, 3)))
        return HeadOutput(self.classifier(v), v, maps, fused)


class GlobalPoolHead(nn.Module):
    """The baseline: global average pooling of Res-5, then the classifier.

    `logits="sigmoid_clamp"` is the authors' baseline (see VARIANTS["authors"]).
    """

    def __init__(
        self,
        in_channels: list[int],
        num_classes: int,
        classifier: dict | None = None,
        variant: str = "paper",
        baseline_logits: str | None = None,
        channels: int | None = None,
        global_channels: int | None = None,
        global_branch: bool | None = None,
    ):
        """`channels` and `global_branch` are unused: they let a sweep over attention= keep a
        recipe's pyramid-head settings (this head is the global branch alone)."""
        super().__init__()
        logits = resolve_switches(variant, {"baseline_logits": baseline_logits})["baseline_logits"]
        if logits not in ("plain", "sigmoid_clamp"):
            raise ConfigError(f"attention.baseline_logits={logits!r}: plain or sigmoid_clamp")
        self.squash = logits == "sigmoid_clamp"
        width = global_channels or in_channels[-1]
        self.classifier = Classifier(width, num_classes, **(classifier or {}))

    @staticmethod
    def global_level(**_) -> int:
        """Res-5, whatever `levels` a sweep over attention= sets for the pyramid heads."""
        return 5

    def forward(self, feats: list[torch.Tensor], global_feat: torch.Tensor | None = None):
        pooled = feats[-1] if global_feat is None else global_feat
        v = pooled.mean((2, 3))
        logits = self.classifier(v)
        if self.squash:
            logits = torch.sigmoid(logits).clamp(1e-7, 1 - 1e-7)
        return HeadOutput(logits, v, [], pooled)
