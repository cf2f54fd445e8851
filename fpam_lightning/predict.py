"""Classify your own recordings: `python -m fpam_lightning.predict ckpt_path=CKPT FILE_OR_DIR ...`.

Arguments are `key=value` settings (as in the other commands) and any number of audio files or
folders (searched recursively for .wav/.flac/.ogg/.aiff/.mp3). Settings:

  ckpt_path=PATH     the checkpoint (required)
  top_k=3            classes printed per file
  csv=PATH           write one row per file: top-k and every class's probability
  windows_csv=PATH   write one row per window: its start/end (s) and class probabilities
  hop=SECONDS        hop between windows of a long file (default: half the training length)
  device=auto        auto | cpu | cuda
  batch_size=32      windows per forward pass

Any channel count, sample rate and length is accepted: audio is mixed to mono and resampled to
the model's rate. A file no longer than the training clip is zero-padded, as in training; a
longer one is cut into clip-length windows (the last one flush with the end) whose class
probabilities are averaged. A file that cannot be read is reported on stderr and the others are
still scored (exit code 1); a bad checkpoint exits with code 2.
"""

from __future__ import annotations

import csv
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from .data.audio import AudioDecodeError, decode, resample, to_mono
from .training.checkpoint import LoadedCheckpoint, load_checkpoint
from .utils.errors import USER_ERROR_EXIT_CODE, FpamError
from .utils.io import atomic_path

AUDIO_EXTENSIONS = (".wav", ".flac", ".ogg", ".aiff", ".aif", ".mp3")
DEFAULTS = {
    "ckpt_path": None,
    "top_k": "3",
    "csv": None,
    "windows_csv": None,
    "hop": None,
    "device": "auto",
    "batch_size": "32",
}


@dataclass
class FilePrediction:
    file: str
    probs: np.ndarray | None = None  # (K,) mean over windows
    windows: list[tuple[float, float, np.ndarray]] = field(default_factory=list)
    duration_s: float = 0.0
    error: str | None = None


def parse_args(argv: Sequence[str]) -> tuple[dict[str, str | None], list[str]]:
    """Split `key=value` settings from paths; an existing path always counts as a path."""
    settings: dict[str, str | None] = dict(DEFAULTS)
    paths: list[str] = []
    for arg in argv:
        key, eq, value = arg.partition("=")
        key = key.lstrip("-").replace("-", "_")
        if eq and key in DEFAULTS and not Path(arg).exists():
            settings[key] = value
        elif arg.startswith("-"):
            raise FpamError(
                f"unknown option {arg!r}: settings are key=value, keys {', '.join(DEFAULTS)}"
            )
        elif eq and not Path(arg).exists() and "/" not in key:
            raise FpamError(f"unknown setting {key!r}: choose from {', '.join(DEFAULTS)}")
        else:
            paths.append(arg)
    if not settings["ckpt_path"]:
        raise FpamError("give the checkpoint: ckpt_path=RUN/checkpoints/last.ckpt")
    if not paths:
        raise FpamError("give one or more audio files or folders to classify")
    return settings, paths


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


def top_k(probs: np.ndarray, names: Sequence[str], k: int) -> list[tuple[str, float]]:
    order = np.argsort(-probs)[:k]
    return [(names[i], float(probs[i])) for i in order]


def write_file_csv(path: str, preds: list[FilePrediction], names: list[str], k: int) -> None:
    cols = ["file", "status", "error", "duration_s", "num_windows"]
    cols += [f"top{i}_{w}" for i in range(1, k + 1) for w in ("class", "prob")]
    cols += [f"prob_{n}" for n in names]
    with atomic_path(path) as tmp, open(tmp, "w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=cols)
        w.writeheader()
        for p in preds:
            row = {
                "file": p.file,
                "status": "error" if p.error else "ok",
                "error": p.error or "",
                "duration_s": f"{p.duration_s:.3f}",
                "num_windows": len(p.windows),
            }
            if p.probs is not None:
                for i, (c, q) in enumerate(top_k(p.probs, names, k), start=1):
                    row[f"top{i}_class"], row[f"top{i}_prob"] = c, f"{q:.6f}"
                row.update({f"prob_{n}": f"{q:.6f}" for n, q in zip(names, p.probs, strict=True)})
            w.writerow(row)


def write_windows_csv(path: str, preds: list[FilePrediction], names: list[str]) -> None:
    cols = ["file", "window", "start_s", "end_s", "predicted_class"] + [f"prob_{n}" for n in names]
    with atomic_path(path) as tmp, open(tmp, "w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=cols)
        w.writeheader()
        for p in preds:
            for i, (s, e, probs) in enumerate(p.windows):
                w.writerow(
                    {
                        "file": p.file,
                        "window": i,
                        "start_s": f"{s:.3f}",
                        "end_s": f"{e:.3f}",
                        "predicted_class": names[int(np.argmax(probs))],
                        **{f"prob_{n}": f"{q:.6f}" for n, q in zip(names, probs, strict=True)},
                    }
                )


def number(settings: dict[str, str | None], key: str, kind: type = int):
    """A numeric setting, or a one-line error naming it (not a ValueError traceback)."""
    try:
        return kind(settings[key])
    except (TypeError, ValueError):
        what = "an integer" if kind is int else "a number"
        raise FpamError(f"{key}={settings[key]!r} is not {what}") from None


def run(argv: Sequence[str]) -> int:
    settings, paths = parse_args(argv)
    from .evaluate import pick_device

    top, batch_size = number(settings, "top_k"), number(settings, "batch_size")
    if batch_size < 1:
        raise FpamError(f"batch_size={batch_size} must be at least 1")
    hop_s = number(settings, "hop", float) if settings["hop"] else None
    loaded = load_checkpoint(settings["ckpt_path"], pick_device(settings["device"]))
    k = max(1, min(top, len(loaded.class_names)))
    hop_s = hop_s if hop_s is not None else loaded.clip_seconds / 2
    if hop_s <= 0:
        raise FpamError(f"hop={hop_s} must be positive (seconds)")
    hop = int(round(hop_s * loaded.sample_rate))
    preds = []
    for path in expand(paths):
        p = predict_file(loaded, path, hop, batch_size)
        preds.append(p)
        if p.error:
            print(f"{path}: error: {p.error}", file=sys.stderr)
            continue
        best = ", ".join(f"{pretty} {q:.3f}" for pretty, q in top_k(p.probs, loaded.class_names, k))
        print(
            f"{path}: {best} ({len(p.windows)} window{'s' if len(p.windows) > 1 else ''}, "
            f"{p.duration_s:.2f} s)"
        )
    if settings["csv"]:
        write_file_csv(settings["csv"], preds, loaded.class_names, k)
    if settings["windows_csv"]:
        write_windows_csv(settings["windows_csv"], preds, loaded.class_names)
    failed = sum(p.error is not None for p in preds)
    if failed:
        print(f"{failed} of {len(preds)} file(s) could not be read", file=sys.stderr)
    return 1 if failed else 0


def main(argv: Sequence[str] | None = None) -> int:
    try:
        return run(sys.argv[1:] if argv is None else argv)
    except FpamError as e:
        print(f"error: {e}", file=sys.stderr)
        return USER_ERROR_EXIT_CODE


if __name__ == "__main__":
    sys.exit(main())
