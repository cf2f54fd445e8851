"""Cropping and training-time augmentation, run on the model's device (the `augment` group).

A training batch goes: crop -> WAVE transforms -> front end -> SPEC transforms -> (mixup, in the
module). Evaluation crops the centre, or scores several fixed views of each clip (`views`,
eval.tta_crops). Each transform is a small module whose `from_config` returns None when the
config leaves it off; the two lists below fix the order in which transforms run, and so the
order in which they draw random numbers: keep it, or a seeded run no longer repeats. Each draws
the same count of numbers whatever it decides per clip. Adding a transform: write the class,
add it to a list, add its keys (off) to conf/augment/default.yaml.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
import torchaudio
from torch import nn

from ..utils.schema import Augment as AugmentSchema
from ..utils.schema import filled


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


def views(wave: torch.Tensor, length: int, count: int) -> list[torch.Tensor]:
    """`count` fixed views of each clip for test-time scoring, each (batch, length).

    Clips longer than `length` (data.cache_seconds > clip_seconds): crops at evenly spaced
    offsets from start to end (one view: the centre crop). Otherwise: the clip rolled by
    0, 1/count, 2/count, ... of its length. No random numbers are drawn.
    """
    n = wave.shape[-1]
    if count <= 1:
        return [crop(wave, length, train=False)]
    if n > length:
        starts = torch.linspace(0, n - length, count).round().long().tolist()
        return [wave[..., s : s + length] for s in starts]
    wave = crop(wave, length, train=False)  # pads a short clip
    return [wave.roll(k * length // count, dims=-1) for k in range(count)]


def view_kind(count: int, stored: int, length: int) -> str:
    """How `views` scores a clip, for results.json: centre crop, or the mean of crops / shifts."""
    if count <= 1:
        return "centre crop"
    return f"mean of {count} {'crops' if stored > length else 'shifts'}"


def _per_clip(values: torch.Tensor, wave: torch.Tensor) -> torch.Tensor:
    return values.to(wave.dtype)[:, None]


def rms(wave: torch.Tensor) -> torch.Tensor:
    return wave.float().pow(2).mean(-1).sqrt()


class RandomCrop(nn.Module):
    """Train on a random window of `fraction` of each clip; evaluation still sees whole clips.

    A fully convolutional network with global pooling takes any length, so shorter training
    crops cost proportionally less time and add position jitter, while the held-out fold is
    scored on the full clip, as published results are."""

    def __init__(self, fraction: float):
        super().__init__()
        self.fraction = float(fraction)

    @classmethod
    def from_config(cls, cfg: dict[str, Any]) -> RandomCrop | None:
        fraction = float(cfg["crop_fraction"])
        return cls(fraction) if fraction < 1 else None

    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        return crop(wave, max(1, int(round(self.fraction * wave.shape[-1]))), train=True)


class TimeShift(nn.Module):
    """Roll each clip in time by a whole number of samples drawn uniformly in
    [-max_fraction, +max_fraction] of its length (what leaves one end comes in at the other)."""

    def __init__(self, max_fraction: float):
        super().__init__()
        self.max_fraction = float(max_fraction)

    @classmethod
    def from_config(cls, cfg: dict[str, Any]) -> TimeShift | None:
        fraction = float(cfg["time_shift"])
        return cls(fraction) if fraction > 0 else None

    def forward(self, wave: torch.Tensor) -> torch.Tensor:  # (batch, samples)
        n = wave.shape[-1]
        most = int(self.max_fraction * n)
        shifts = torch.randint(-most, most + 1, (wave.shape[0], 1), device=wave.device)
        return wave.gather(1, (torch.arange(n, device=wave.device) - shifts) % n)


class Gain(nn.Module):
    """Scale each clip by a gain drawn uniformly in [-max_db, +max_db] dB (its RMS moves by it)."""

    def __init__(self, max_db: float):
        super().__init__()
        self.max_db = float(max_db)

    @classmethod
    def from_config(cls, cfg: dict[str, Any]) -> Gain | None:
        db = float(cfg["gain_db"])
        return cls(db) if db > 0 else None

    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        db = (2 * torch.rand(wave.shape[0], device=wave.device) - 1) * self.max_db
        return wave * _per_clip(10 ** (db / 20), wave)


class BackgroundMix(nn.Module):
    """With probability `p` per clip, add another clip of the batch as background, scaled so
    that the clip-to-background RMS ratio is an SNR drawn uniformly in [snr_low, snr_high] dB.

    The partner of clip i is clip (i + k) % batch for one drawn k in 1..batch-1, never itself;
    the label stays the clip's own. A silent partner adds nothing.
    """

    def __init__(self, p: float, snr_low: float, snr_high: float):
        super().__init__()
        self.p, self.snr_low, self.snr_high = float(p), float(snr_low), float(snr_high)

    @classmethod
    def from_config(cls, cfg: dict[str, Any]) -> BackgroundMix | None:
        p = float(cfg["background"])
        if p <= 0:
            return None
        low, high = (float(v) for v in cfg["background_snr_db"])
        return cls(p, low, high)

    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        b, device = wave.shape[0], wave.device
        offset = torch.randint(1, max(b, 2), (1,), device=device)
        use = torch.rand(b, device=device) < self.p
        snr_db = self.snr_low + (self.snr_high - self.snr_low) * torch.rand(b, device=device)
        if b < 2:
            return wave
        background = wave[(torch.arange(b, device=device) + offset) % b]
        level = rms(background)
        scale = rms(wave) / (level.clamp_min(1e-12) * 10 ** (snr_db / 20))
        scale = torch.where(use & (level > 1e-5), scale, torch.zeros_like(scale))
        return wave + _per_clip(scale, wave) * background


class TimeFlip(nn.Module):
    """Reverse the spectrogram in time, each clip with probability `p`."""

    def __init__(self, p: float):
        super().__init__()
        self.p = float(p)

    @classmethod
    def from_config(cls, cfg: dict[str, Any]) -> TimeFlip | None:
        p = float(cfg["time_flip"])
        return cls(p) if p > 0 else None

    def forward(self, spec: torch.Tensor) -> torch.Tensor:  # (batch, 1, time, mels)
        flip = torch.rand(spec.shape[0], device=spec.device) < self.p
        return torch.where(flip[:, None, None, None], spec.flip(-2), spec)


class SpecAugmentMasks(nn.Module):
    """SpecAugment as published: `num_masks` rounds of a frequency then a time mask (widths
    drawn up to freq_mask bins / time_mask frames), drawn for each clip on its own.

    Masked cells become 0: the mean with features.normalize=per_mel.
    """

    def __init__(self, freq_mask: int, time_mask: int, num_masks: int):
        super().__init__()
        masks: list[nn.Module] = []
        for _ in range(num_masks):
            if freq_mask:
                masks.append(torchaudio.transforms.FrequencyMasking(freq_mask, iid_masks=True))
            if time_mask:
                masks.append(torchaudio.transforms.TimeMasking(time_mask, iid_masks=True))
        self.masks = nn.Sequential(*masks)

    @classmethod
    def from_config(cls, cfg: dict[str, Any]) -> SpecAugmentMasks | None:
        freq, time = int(cfg["freq_mask"]), int(cfg["time_mask"])
        rounds = int(cfg["num_masks"])
        return cls(freq, time, rounds) if rounds > 0 and (freq or time) else None

    def forward(self, spec: torch.Tensor) -> torch.Tensor:  # (batch, 1, time, mels)
        # iid masks need (batch, channel, F, T): one mask per clip and channel.
        return self.masks(spec.transpose(-1, -2)).transpose(-1, -2)


# The transforms, in the order they run. WAVE: after the crop, on (batch, samples).
WAVE: list[type[nn.Module]] = [RandomCrop, TimeShift, Gain, BackgroundMix]
# SPEC: after the front end, on (batch, 1, time, mels).
SPEC: list[type[nn.Module]] = [TimeFlip, SpecAugmentMasks]


class Augmentation(nn.Module):
    """The configured training transforms: `wave` and `spec` stages (identity when all off).

    Holds no parameters or buffers, so checkpoints are the same with or without it.
    """

    def __init__(self, cfg: dict[str, Any] | None = None):
        super().__init__()
        cfg = filled(AugmentSchema, cfg)
        self.wave = nn.Sequential(*_enabled(WAVE, cfg))
        self.spec = nn.Sequential(*_enabled(SPEC, cfg))


def _enabled(transforms: list[type[nn.Module]], cfg: dict[str, Any]) -> list[nn.Module]:
    built = (t.from_config(cfg) for t in transforms)
    return [t for t in built if t is not None]
