"""Log-mel front ends that live inside the model: they run on its device and export with it."""

from __future__ import annotations

from collections.abc import Iterable

import torch
import torchaudio
from torch import nn

from ..utils.errors import ConfigError
from ..utils.schema import is_number, is_positive_int, positive_int


class LogMel(nn.Module):
    """Waveform (B, samples) -> log-mel "image" (B, 1, time, mel).

    `scale='log'` is the paper's natural log; `scale='db'` is librosa's `power_to_db`
    (`db_multiplier` 10) or `amplitude_to_db` (20), each relative to 1 with an `amin` floor and
    an optional per-clip `top_db` floor. `normalize='per_mel'` standardises each mel bin with
    statistics from the training folds only (`fit_statistics`), kept in buffers so that they
    are saved in checkpoints and exported with the weights.
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
        db_multiplier: float | None = None,
        amin: float = 1e-10,
        pad_mode: str = "reflect",
        eps: float = 1e-6,
    ):
        super().__init__()
        problems = LogMel.problems(
            sample_rate, n_fft, hop_length, n_mels, win_length, f_min, f_max, power
        )
        if problems:
            raise ConfigError("; ".join(problems))
        if scale not in ("log", "db"):
            raise ConfigError(f"features.scale={scale!r}: choose log or db")
        if normalize not in ("none", "per_mel"):
            raise ConfigError(f"features.normalize={normalize!r}: choose none or per_mel")
        self.sample_rate, self.hop_length, self.n_mels = sample_rate, hop_length, n_mels
        self.scale, self.power, self.eps, self.top_db, self.amin = scale, power, eps, top_db, amin
        self.db_multiplier = float(db_multiplier or (10.0 if power == 2.0 else 20.0))
        self.normalize = normalize
        self.mel = torchaudio.transforms.MelSpectrogram(
            sample_rate=sample_rate,
            n_fft=n_fft,
            win_length=win_length,
            hop_length=hop_length,
            f_min=f_min,
            f_max=f_max,
            n_mels=n_mels,
            power=power,
            mel_scale=mel_scale,
            norm=norm,
            pad_mode=pad_mode,
        )
        self.register_buffer("mean", torch.zeros(n_mels))
        self.register_buffer("std", torch.ones(n_mels))
        # How many frames the statistics came from; 0 means "not fitted yet".
        self.register_buffer("stats_frames", torch.zeros((), dtype=torch.long))

    @staticmethod
    def problems(
        sample_rate=16000,
        n_fft=1024,
        hop_length=400,
        n_mels=64,
        win_length=None,
        f_min=0.0,
        f_max=None,
        power=2.0,
        **_,
    ) -> list[str]:
        """Sizes and band edges, before anything is built (the clip's length against n_fft
        spans groups: training/config_checks)."""
        out: list[str] = []
        for key, value in (
            ("sample_rate", sample_rate),
            ("n_fft", n_fft),
            ("hop_length", hop_length),
            ("n_mels", n_mels),
        ):
            out += positive_int(f"features.{key}", value)
        out += positive_int("features.win_length", win_length, allow_none=True)
        if all(is_positive_int(v) for v in (n_fft, win_length)) and win_length > n_fft:
            out.append(f"features.win_length={win_length} must not exceed features.n_fft={n_fft}")
        if not (is_number(power) and power > 0):
            out.append(f"features.power={power!r} must be positive (2: power, 1: magnitude)")
        if not is_positive_int(sample_rate):
            return out  # the band edges are measured against it
        top = f_max if f_max is not None else sample_rate / 2
        if not (is_number(f_min) and f_min >= 0):
            out.append(f"features.f_min={f_min!r} must be 0 or a positive frequency (Hz)")
        elif not (is_number(top) and f_min < top <= sample_rate / 2):
            out.append(
                f"features.f_max={f_max!r} must be above features.f_min={f_min} and at most "
                f"half features.sample_rate={sample_rate} ({sample_rate / 2:g} Hz), or null"
            )
        return out

    def num_frames(self, num_samples: int) -> int:
        return num_samples // self.hop_length + 1

    @property
    def needs_statistics(self) -> bool:
        return self.normalize == "per_mel" and int(self.stats_frames) == 0

    def unnormalized(self, wave: torch.Tensor) -> torch.Tensor:
        with torch.autocast(wave.device.type, enabled=False):
            spec = self.mel(wave.float())  # (B, mel, time)
            if self.scale == "log":
                spec = torch.log(spec + self.eps)
            else:
                spec = self.db_multiplier * torch.log10(spec.clamp_min(self.amin))
                if self.top_db is not None:
                    peak = spec.amax(dim=(-2, -1), keepdim=True)
                    spec = torch.maximum(spec, peak - self.top_db)
        return spec.transpose(-1, -2).unsqueeze(1)  # (B, 1, time, mel)

    @torch.no_grad()
    def set_statistics(self, mean: torch.Tensor, std: torch.Tensor, frames: int = 1) -> None:
        self.mean.copy_(mean)
        self.std.copy_(std.clamp_min(1e-5))
        self.stats_frames.fill_(int(frames))

    @torch.no_grad()
    def fit_statistics(self, waves: Iterable[torch.Tensor]) -> int:
        """Per-mel mean and std over every frame of `waves` (batches of training clips).

        Accumulates in float64 so a data set's worth of frames loses no precision; returns the
        number of frames used.
        """
        total = torch.zeros((), dtype=torch.float64, device=self.mean.device)
        s1 = torch.zeros(self.n_mels, dtype=torch.float64, device=self.mean.device)
        s2 = torch.zeros_like(s1)
        for wave in waves:
            spec = self.unnormalized(wave.to(self.mean.device)).double().reshape(-1, self.n_mels)
            total += spec.shape[0]
            s1 += spec.sum(0)
            s2 += (spec * spec).sum(0)
        n = int(total)
        if n == 0:
            raise ConfigError("features.normalize=per_mel needs training clips for its statistics")
        mean = s1 / n
        std = (s2 / n - mean * mean).clamp_min(0).sqrt()
        self.set_statistics(mean.float(), std.float(), n)
        return n

    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        spec = self.unnormalized(wave)
        if self.normalize == "per_mel":
            spec = (spec - self.mean) / self.std
        return spec


class EfficientATMel(nn.Module):
    """Waveform -> log-mel (B, 1, time, mel) exactly as EfficientAT's pretrained filters expect it.

    32 kHz, pre-emphasis x[n] - 0.97 x[n-1] (a shifted subtraction; the first sample kept), a
    centred STFT with a symmetric Hann window of `win_length` zero-padded to `n_fft`, power,
    Kaldi's mel bank (padded by one zero column to n_fft/2 + 1), log(mel + 1e-5), (x + 4.5) / 5.
    With `jitter` the band edges move at random in training (f_min up by < 10 Hz, f_max by
    < 1 kHz either way), as in the authors' pretraining; evaluation always uses the exact bank.
    Normalisation is part of the recipe, so it has no statistics to fit.
    """

    needs_statistics = False

    def __init__(
        self,
        sample_rate: int = 32000,
        n_fft: int = 1024,
        win_length: int = 800,
        hop_length: int = 320,
        n_mels: int = 128,
        f_min: float = 0.0,
        f_max: float = 15000.0,
        preemphasis: float = 0.97,
        log_offset: float = 1e-5,
        shift: float = 4.5,
        scale: float = 5.0,
        jitter: bool = False,
        jitter_fmin_hz: float = 10.0,
        jitter_fmax_hz: float = 1000.0,
    ):
        super().__init__()
        if not 0 <= f_min < f_max <= sample_rate / 2:
            raise ConfigError(
                f"features.f_min={f_min} and f_max={f_max} must satisfy 0 <= f_min < f_max <= "
                f"features.sample_rate / 2 ({sample_rate / 2:g} Hz)"
            )
        self.sample_rate, self.n_fft, self.hop_length, self.n_mels = (
            sample_rate,
            n_fft,
            hop_length,
            n_mels,
        )
        self.f_min, self.f_max, self.preemphasis = float(f_min), float(f_max), float(preemphasis)
        self.log_offset, self.shift, self.scale = log_offset, shift, scale
        self.jitter, self.jitter_fmin_hz, self.jitter_fmax_hz = (
            jitter,
            jitter_fmin_hz,
            jitter_fmax_hz,
        )
        self.register_buffer("window", torch.hann_window(win_length, periodic=False), False)
        self.register_buffer("mel_bank", self._bank(self.f_min, self.f_max), False)

    def _bank(self, f_min: float, f_max: float) -> torch.Tensor:
        from torchaudio.compliance.kaldi import get_mel_banks

        bank, _ = get_mel_banks(self.n_mels, self.n_fft, float(self.sample_rate), f_min, f_max,
                                100.0, -500.0, 1.0)  # fmt: skip
        return torch.nn.functional.pad(bank, (0, 1))  # (n_mels, n_fft // 2 + 1)

    def num_frames(self, num_samples: int) -> int:
        return num_samples // self.hop_length + 1

    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        with torch.autocast(wave.device.type, enabled=False):
            x = wave.float()
            x = torch.cat([x[..., :1], x[..., 1:] - self.preemphasis * x[..., :-1]], -1)
            spec = torch.stft(
                x,
                self.n_fft,
                self.hop_length,
                self.window.shape[0],
                self.window,
                center=True,
                return_complex=True,
            ).abs().pow(2)  # fmt: skip
            bank = self.mel_bank
            if self.training and self.jitter:
                f_min = self.f_min + float(torch.rand(()) * self.jitter_fmin_hz)
                f_max = self.f_max + float((torch.rand(()) * 2 - 1) * self.jitter_fmax_hz)
                bank = self._bank(f_min, min(f_max, self.sample_rate / 2)).to(spec.device)
            mel = torch.matmul(bank, spec)  # (B, mel, time)
            mel = (torch.log(mel + self.log_offset) + self.shift) / self.scale
        return mel.transpose(-1, -2).unsqueeze(1)  # (B, 1, time, mel)
