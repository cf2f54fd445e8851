"""Log-mel front ends that live inside the model: they run on its device and export with it."""

from __future__ import annotations

import torch
import torchaudio
from torch import nn


class LogMel(nn.Module):
    """Waveform (B, samples) -> log-mel "image" (B, 1, time, mel).

    `scale='log'` is the paper's natural log of power; `scale='db'` is librosa's power_to_db /
    amplitude_to_db (by `power`). `normalize='per_mel'` standardises each mel bin with statistics
    that are set from the training folds only (`set_statistics`) and saved with the weights.
    """

    def __init__(
        self,
        sample_rate: int = 16000,
        n_fft: int = 1024,
        hop_length: int = 400,
        n_mels: int = 64,
        win_length: int | None = None,
        f_min: float = 0.0,
        f_max: float | None = None,
        power: float = 2.0,
        scale: str = "log",
        mel_scale: str = "htk",
        norm: str | None = None,
        normalize: str = "none",
        top_db: float | None = None,
        eps: float = 1e-6,
    ):
        super().__init__()
        if scale not in ("log", "db"):
            raise ValueError(f"features.scale={scale!r}: choose log or db")
        if normalize not in ("none", "per_mel"):
            raise ValueError(f"features.normalize={normalize!r}: choose none or per_mel")
        self.sample_rate, self.hop_length, self.n_mels = sample_rate, hop_length, n_mels
        self.scale, self.power, self.eps, self.top_db = scale, power, eps, top_db
        self.normalize = normalize
        self.mel = torchaudio.transforms.MelSpectrogram(
            sample_rate=sample_rate, n_fft=n_fft, win_length=win_length, hop_length=hop_length,
            f_min=f_min, f_max=f_max, n_mels=n_mels, power=power, mel_scale=mel_scale, norm=norm,
        )
        self.register_buffer("mean", torch.zeros(n_mels))
        self.register_buffer("std", torch.ones(n_mels))

    def num_frames(self, num_samples: int) -> int:
        return num_samples // self.hop_length + 1

    def unnormalized(self, wave: torch.Tensor) -> torch.Tensor:
        with torch.autocast(wave.device.type, enabled=False):
            spec = self.mel(wave.float())  # (B, mel, time)
            if self.scale == "log":
                spec = torch.log(spec + self.eps)
            else:
                spec = (10.0 if self.power == 2.0 else 20.0) * torch.log10(spec.clamp_min(1e-10))
                if self.top_db is not None:
                    peak = spec.amax(dim=(-2, -1), keepdim=True)
                    spec = torch.maximum(spec, peak - self.top_db)
        return spec.transpose(-1, -2).unsqueeze(1)  # (B, 1, time, mel)

    @torch.no_grad()
    def set_statistics(self, mean: torch.Tensor, std: torch.Tensor) -> None:
        self.mean.copy_(mean)
        self.std.copy_(std.clamp_min(1e-5))

    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        spec = self.unnormalized(wave)
        if self.normalize == "per_mel":
            spec = (spec - self.mean) / self.std
        return spec
