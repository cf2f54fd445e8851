"""EfficientAT's AudioSet-pretrained MobileNetV3 family as a pyramid backbone.

The release files (Schmid, Koutini, Widmer, ICASSP 2023; MIT) are torchvision's
`mobilenet_v3_large(width_mult=w)` with a 1-channel stem under other names, so the network here
is torchvision's own and only the names are mapped (`map_release_keys`). Levels follow the
ResNet naming by stride: level k ends at stride 2^k (2: features[3], 3: [6], 4: [12],
5: the last stage with its 1x1 expansion, features[16], which the AudioSet head pools).
The network takes EfficientAT's (mel, time) layout; this class transposes in and out, so its
feature maps are (time, frequency) like every other backbone's.
"""

from __future__ import annotations

import logging
import re
import urllib.error
from pathlib import Path

import torch
from torch import nn
from torchvision.models import mobilenet_v3_large

from ..utils.errors import ConfigError
from ..utils.safe_load import safe_torch_load
from . import LEVELS

log = logging.getLogger(__name__)

RELEASE_URL = "https://github.com/fschmid56/EfficientAT/releases/download/v0.0.1/{}"
# variant -> (width_mult, release file, sha256 where we know it)
RELEASES: dict[str, tuple[float, str, str | None]] = {
    "mn04_as": (
        0.4,
        "mn04_as_mAP_432.pt",
        "899a8c6217063f6941793102a2780b3dd788ab11fce468d9cf5f0577c453321c",
    ),
    "mn05_as": (0.5, "mn05_as_mAP_443.pt", None),
    "mn10_as": (1.0, "mn10_as_mAP_471.pt", None),
    "mn20_as": (2.0, "mn20_as_mAP_478.pt", None),
    "mn30_as": (3.0, "mn30_as_mAP_482.pt", None),
    "mn40_as": (4.0, "mn40_as_mAP_484.pt", None),
}
# The last block of each level in torchvision's `features` (level 5 includes the expansion).
LEVEL_ENDS = {2: 3, 3: 6, 4: 12, 5: 16}
AUDIOSET_CLASSES = 527


def map_release_keys(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """EfficientAT's names and shapes to torchvision's: the squeeze-excitation Linear layers
    become 1x1 convolutions, and the AudioSet head's `classifier.2/5` become `classifier.0/3`."""
    out = {}
    for k, v in state.items():
        if ".conc_se_layers.0." in k:
            k = k.replace(".conc_se_layers.0.", ".")
            if k.endswith("weight") and v.ndim == 2:
                v = v[:, :, None, None]
        k = re.sub(r"^classifier\.2\.", "classifier.0.", k)
        k = re.sub(r"^classifier\.5\.", "classifier.3.", k)
        out[k] = v
    return out


def release_file(variant: str, cache_dir: str | Path | None = None, url: str = RELEASE_URL) -> Path:
    """The variant's release file, downloaded once into torch's hub cache (or `cache_dir`) and
    checked against its sha256 where we know it. `url` ({} for the file name) may be a mirror."""
    _, name, sha256 = RELEASES[variant]
    folder = Path(cache_dir or Path(torch.hub.get_dir()) / "checkpoints").expanduser()
    path = folder / name
    if path.is_file():
        return path
    url = url.format(name)
    folder.mkdir(parents=True, exist_ok=True)
    log.info("backbone.pretrained=true: downloading %s to %s", url, path)
    if sha256 is None:
        log.warning("%s has no pinned sha256 here: its download is not checked", name)
    try:
        torch.hub.download_url_to_file(url, str(path), hash_prefix=sha256, progress=False)
    except (urllib.error.URLError, OSError) as e:
        raise ConfigError(
            f"backbone.pretrained=true: could not download {url} ({type(e).__name__}: "
            f"{str(e)[:160]}); fetch it by hand and pass backbone.checkpoint=PATH"
        ) from e
    except RuntimeError as e:  # download_url_to_file's hash mismatch
        raise ConfigError(f"backbone.pretrained=true: {url}: {str(e)[:200]}") from e
    return path


class EfficientATBackbone(nn.Module):
    """MobileNetV3 (EfficientAT's `mnXX_as`) returning the requested levels' feature maps.

    `checkpoint` (a release file) or `pretrained=true` (download it) load the AudioSet
    weights; the AudioSet classifier is kept as `audioset_head` only with `keep_audioset_head`
    (for tagging with the pretrained labels), else dropped and logged.
    """

    prefers_nchw = True  # depthwise convolutions: channels_last slows them in bf16 on a CPU

    def __init__(
        self,
        variant: str = "mn04_as",
        levels: list[int] = (5,),
        pretrained: bool = False,
        checkpoint: str | None = None,
        cache_dir: str | None = None,
        url: str = RELEASE_URL,
        keep_audioset_head: bool = False,
    ):
        super().__init__()
        if variant not in RELEASES:
            raise ConfigError(f"backbone.variant={variant!r}: choose one of {', '.join(RELEASES)}")
        bad = [lv for lv in levels if lv not in LEVELS]
        if bad:
            raise ConfigError(f"levels {bad} do not exist in {variant}: choose from {list(LEVELS)}")
        if pretrained and checkpoint:
            raise ConfigError(
                "backbone.pretrained=true and backbone.checkpoint are both set: "
                "choose one source of weights"
            )
        self.variant = variant
        self.levels = sorted(set(int(lv) for lv in levels))
        net = mobilenet_v3_large(width_mult=RELEASES[variant][0])
        stem = net.features[0][0]
        net.features[0][0] = nn.Conv2d(1, stem.out_channels, 3, stride=2, padding=1, bias=False)
        self.features = net.features[: LEVEL_ENDS[self.levels[-1]] + 1]
        self.channels = [self._out_channels(LEVEL_ENDS[lv]) for lv in self.levels]
        self.ends = [LEVEL_ENDS[lv] for lv in self.levels]
        self.audioset_head = net.classifier if keep_audioset_head else None
        if self.audioset_head is not None:
            self.audioset_head[-1] = nn.Linear(self.audioset_head[-1].in_features, AUDIOSET_CLASSES)
        if pretrained or checkpoint:
            path = release_file(variant, cache_dir, url) if pretrained else checkpoint
            self.load_release(path)

    def _out_channels(self, index: int) -> int:
        block = self.features[index]
        return getattr(block, "out_channels", None) or block[0].out_channels

    def load_release(self, path: str | Path) -> None:
        """Load a release file strictly, apart from the AudioSet classifier (dropped unless kept).

        A file of another variant or width, or not a release file at all, fails in one line
        naming this variant and what the file holds."""
        path = Path(path).expanduser()
        state = map_release_keys(dict(safe_torch_load(path, setting="backbone.checkpoint")))
        head = {k: v for k, v in state.items() if k.startswith("classifier.")}
        body = {k[len("features.") :]: v for k, v in state.items() if k.startswith("features.")}
        target = self.features.state_dict()
        body = {k: v for k, v in body.items() if int(k.split(".")[0]) < len(self.features)}
        wrong = [k for k in target if k not in body or body[k].shape != target[k].shape]
        if wrong or not body:
            stem = state.get("features.0.0.weight")
            holds = f"a stem of {tuple(stem.shape)}" if stem is not None else "no EfficientAT keys"
            raise ConfigError(
                f"backbone.checkpoint={path} is not an EfficientAT {self.variant} release file "
                f"(expected a stem of {tuple(target['0.0.weight'].shape)}; the file holds {holds}"
                f", {len(wrong)} of {len(target)} tensors missing or of another shape)"
            )
        self.features.load_state_dict(body, strict=True)
        if self.audioset_head is not None:
            self.audioset_head.load_state_dict({k[11:]: v for k, v in head.items()}, strict=True)
        else:
            log.info(
                "backbone.checkpoint=%s: %s loaded; its AudioSet classifier (%s) dropped",
                path,
                self.variant,
                ", ".join(sorted(head)),
            )

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        x = x.transpose(-1, -2)  # (time, mel) -> EfficientAT's (mel, time)
        out = []
        for i, block in enumerate(self.features):
            x = block(x)
            if i in self.ends:
                out.append(x.transpose(-1, -2))
        return out

    @torch.no_grad()
    def audioset_logits(self, x: torch.Tensor) -> torch.Tensor:
        """The pretrained AudioSet tagger's logits (needs `keep_audioset_head`, level 5)."""
        feats = self.forward(x)[-1]
        return self.audioset_head(feats.mean((2, 3)))
