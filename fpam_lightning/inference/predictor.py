"""Classify audio files of any channel count, sample rate and length (the `predict` command's work).

Audio is mixed to mono and resampled to the model's rate. A file no longer than the training
clip is zero-padded, as in training; a longer one is cut into clip-length windows (the last one
flush with the end) whose class probabilities are averaged. A file that cannot be read, or that
holds NaN/Inf samples (`data.audio.decode` refuses both), becomes a `FilePrediction` with its
`error`, so the others are still scored. `file_table` and `window_table` are the rows of
`predict`'s CSV files.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..data.audio import AudioDecodeError, decode, resample, to_mono
from ..training.checkpoint import LoadedCheckpoint
from ..utils.errors import FpamError
from ..utils.run_files import probability_cells

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
        # One view per window: the overlapping windows are predict's own crops.
        probs = module.infer(batch, views=1).logits.float().softmax(-1).cpu().numpy()
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


# --- predict's tables ----------------------------------------------------------------------------
def top_k(probs: np.ndarray, names: Sequence[str], k: int) -> list[tuple[str, float]]:
    order = np.argsort(-probs)[:k]
    return [(names[i], float(probs[i])) for i in order]


def file_table(
    preds: Sequence[FilePrediction], names: Sequence[str], k: int
) -> tuple[list[dict[str, Any]], list[str]]:
    """`predict`'s csv: one row per file, its top-k and every class's probability."""
    cols = ["file", "status", "error", "duration_s", "num_windows"]
    cols += [f"top{i}_{w}" for i in range(1, k + 1) for w in ("class", "prob")]
    cols += [f"prob_{n}" for n in names]
    rows = []
    for p in preds:
        row: dict[str, Any] = {
            "file": p.file,
            "status": "error" if p.error else "ok",
            "error": p.error or "",
            "duration_s": f"{p.duration_s:.3f}",
            "num_windows": len(p.windows),
        }
        if p.probs is not None:
            for i, (c, q) in enumerate(top_k(p.probs, names, k), start=1):
                row[f"top{i}_class"], row[f"top{i}_prob"] = c, f"{q:.6f}"
            row.update(probability_cells(names, p.probs))
        rows.append(row)
    return rows, cols


def window_table(
    preds: Sequence[FilePrediction], names: Sequence[str]
) -> tuple[list[dict[str, Any]], list[str]]:
    """`predict`'s windows_csv: one row per window, its start/end (s) and class probabilities."""
    cols = ["file", "window", "start_s", "end_s", "predicted_class"] + [f"prob_{n}" for n in names]
    rows = [
        {
            "file": p.file,
            "window": i,
            "start_s": f"{s:.3f}",
            "end_s": f"{e:.3f}",
            "predicted_class": names[int(np.argmax(probs))],
            **probability_cells(names, probs),
        }
        for p in preds
        for i, (s, e, probs) in enumerate(p.windows)
    ]
    return rows, cols
