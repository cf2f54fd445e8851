"""Cropping and training-time augmentation, run on the model's device (the `augment` group).

A training batch goes: crop -> WAVE transforms -> front end -> SPEC transforms -> (mixup, in the
module). Evaluation only crops (the centre). Each transform is a small module whose
`from_config` returns None when the config leaves it off; the two lists below fix the order in
which transforms run, and so the order in which they draw random numbers: keep it, or a seeded
run no longer repeats. Adding a transform: write the class, add it to a list, add its keys (off)
to conf/augment/default.yaml.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
import torchaudio
from torch import nn


def crop(wave: torch.Tensor, length: int, train: bool) -> torch.Tensor:
    """Crop (batch, samples) to `length`: a random offset per clip in training, the centre in
    evaluation; shorter clips are zero-padded at the end."""
    n = wave.shape[-1]
    if n == length:
        return wave
    if n < length:
        return F.pad(wave, (0, length - n))
    if not train:
        start = (n - length) // 2
        return wave[..., start : start + length]
    starts = torch.randint(0, n - length + 1, (wave.shape[0], 1), device=wave.device)
    return wave.gather(1, starts + torch.arange(length, device=wave.device))


class TimeFlip(nn.Module):
    """Reverse the spectrogram in time, each clip with probability `p`."""

    def __init__(self, p: float):
        super().__init__()
        self.p = float(p)

    @classmethod
    def from_config(cls, cfg: dict[str, Any]) -> TimeFlip | None:
        p = float(cfg.get("time_flip", 0.0))
        return cls(p) if p > 0 else None

    def forward(self, spec: torch.Tensor) -> torch.Tensor:  # (batch, 1, time, mels)
        flip = torch.rand(spec.shape[0], device=spec.device) < self.p
        return torch.where(flip[:, None, None, None], spec.flip(-2), spec)


class SpecAugmentMasks(nn.Module):
    """SpecAugment: `num_masks` rounds of a frequency then a time mask (widths drawn up to
    freq_mask bins / time_mask frames), one mask for the whole batch."""

    def __init__(self, freq_mask: int, time_mask: int, num_masks: int):
        super().__init__()
        masks: list[nn.Module] = []
        for _ in range(num_masks):
            if freq_mask:
                masks.append(torchaudio.transforms.FrequencyMasking(freq_mask))
            if time_mask:
                masks.append(torchaudio.transforms.TimeMasking(time_mask))
        self.masks = nn.Sequential(*masks)

    @classmethod
    def from_config(cls, cfg: dict[str, Any]) -> SpecAugmentMasks | None:
        freq, time = int(cfg.get("freq_mask", 0)), int(cfg.get("time_mask", 0))
        rounds = int(cfg.get("num_masks", 0))
        return cls(freq, time, rounds) if rounds > 0 and (freq or time) else None

    def forward(self, spec: torch.Tensor) -> torch.Tensor:  # (batch, 1, time, mels)
        return self.masks(spec.transpose(-1, -2)).transpose(-1, -2)  # masks want (..., F, T)


# The transforms, in the order they run. WAVE: after the crop, on (batch, samples).
WAVE: list[type[nn.Module]] = []
# SPEC: after the front end, on (batch, 1, time, mels).
SPEC: list[type[nn.Module]] = [TimeFlip, SpecAugmentMasks]


class Augmentation(nn.Module):
    """The configured training transforms: `wave` and `spec` stages (identity when all off).

    Holds no parameters or buffers, so checkpoints are the same with or without it.
    """

    def __init__(self, cfg: dict[str, Any] | None = None):
        super().__init__()
        cfg = dict(cfg or {})
        self.wave = nn.Sequential(*_enabled(WAVE, cfg))
        self.spec = nn.Sequential(*_enabled(SPEC, cfg))


def _enabled(transforms: list[type[nn.Module]], cfg: dict[str, Any]) -> list[nn.Module]:
    built = (t.from_config(cfg) for t in transforms)
    return [t for t in built if t is not None]
