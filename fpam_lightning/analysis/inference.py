"""Classify audio files of any channel count, sample rate and length (the `predict` command's work).

Audio is mixed to mono and resampled to the model's rate. A file no longer than the training
clip is zero-padded, as in training; a longer one is cut into clip-length windows (the last one
flush with the end) whose class probabilities are averaged. A file that cannot be read, or that
holds NaN/Inf samples (`data.audio.decode` refuses both), becomes a `FilePrediction` with its
`error`, so the others are still scored.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from ..data.audio import AudioDecodeError, decode, resample, to_mono
from ..training.checkpoint import LoadedCheckpoint
from ..utils.errors import FpamError

AUDIO_EXTENSIONS = (".wav", ".flac", ".ogg", ".aiff", ".aif", ".mp3")


@dataclass
class FilePrediction:
    file: str
    probs: np.ndarray | None = None  # (K,) mean over windows
    windows: list[tuple[float, float, np.ndarray]] = field(default_factory=list)
    duration_s: float = 0.0
    error: str | None = None


def expand(paths: Sequence[str]) -> list[str]:
    """Files as given; folders as their audio files, sorted. Missing paths stay (and fail)."""
    out: list[str] = []
    for p in paths:
        path = Path(p)
        if path.is_dir():
            found = sorted(
                str(f)
                for f in path.rglob("*")
                if f.is_file() and f.suffix.lower() in AUDIO_EXTENSIONS
            )
            if not found:
                raise FpamError(f"{p}: folder holds no audio files ({', '.join(AUDIO_EXTENSIONS)})")
            out.extend(found)
        else:
            out.append(p)
    return out


def window_starts(n: int, length: int, hop: int) -> list[int]:
    """Starts of clip-length windows covering n samples, the last flush with the end."""
    if n <= length:
        return [0]
    starts = list(range(0, n - length + 1, max(1, hop)))
    if starts[-1] != n - length:
        starts.append(n - length)
    return starts


@torch.no_grad()
def predict_wave(
    loaded: LoadedCheckpoint, wave: torch.Tensor, hop: int, batch_size: int = 32
) -> list[tuple[float, float, np.ndarray]]:
    """Class probabilities of each window of a mono waveform at the model's rate."""
    module, length, sr = loaded.module, loaded.clip_samples, loaded.sample_rate
    starts = window_starts(wave.shape[-1], length, hop)
    out = []
    for i in range(0, len(starts), batch_size):
        chunk = starts[i : i + batch_size]
        batch = torch.stack([wave[s : s + length] for s in chunk]).to(module.device)
        probs = module(module.crop(batch, train=False)).float().softmax(-1).cpu().numpy()
        for s, p in zip(chunk, probs, strict=True):
            out.append((s / sr, min(s + length, wave.shape[-1]) / sr, p))
    return out


def predict_file(
    loaded: LoadedCheckpoint, path: str, hop: int, batch_size: int = 32
) -> FilePrediction:
    try:
        data, sr = decode(path)
    except AudioDecodeError as e:
        return FilePrediction(path, error=str(e))
    wave = resample(torch.from_numpy(np.ascontiguousarray(to_mono(data))), sr, loaded.sample_rate)
    windows = predict_wave(loaded, wave, hop, batch_size)
    probs = np.mean([w[2] for w in windows], axis=0)
    return FilePrediction(path, probs=probs, windows=windows, duration_s=len(data) / sr)


def window_hop(loaded: LoadedCheckpoint, hop_s: float | None) -> int:
    """The hop between windows in samples: `hop_s` seconds, by default half the training clip."""
    hop_s = hop_s if hop_s is not None else loaded.clip_seconds / 2
    if hop_s <= 0:
        raise FpamError(f"hop={hop_s} must be positive (seconds)")
    return int(round(hop_s * loaded.sample_rate))
