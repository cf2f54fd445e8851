"""The one audio-loading core every data set shares: decode, mix down, resample, fix length.

`decode` is also where a file is judged: missing, empty, truncated, corrupt or holding
non-finite samples, it raises `AudioDecodeError`, which the cache records as a bad file and
`predict` reports as an error.
"""

from __future__ import annotations

import os
from functools import lru_cache

import numpy as np
import soundfile as sf
import torch
import torchaudio.functional as AF


class AudioDecodeError(ValueError):
    """A file that cannot be decoded into audio (missing, empty, truncated or corrupt)."""


def _check_riff_size(path: str) -> None:
    """libsndfile reads a truncated WAV without complaint; compare the data chunk to the file."""
    size = os.path.getsize(path)
    with open(path, "rb") as f:
        head = f.read(12)
        if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
            return  # not RIFF/WAVE: leave the verdict to libsndfile
        pos = 12
        while pos + 8 <= size:
            f.seek(pos)
            chunk = f.read(8)
            cid, csize = chunk[:4], int.from_bytes(chunk[4:8], "little")
            if cid == b"data":
                if csize != 0xFFFFFFFF and pos + 8 + csize > size:
                    raise AudioDecodeError(
                        f"truncated WAV: data chunk declares {csize} bytes, "
                        f"file holds {size - pos - 8}"
                    )
                return
            pos += 8 + csize + (csize & 1)
        raise AudioDecodeError("WAV has no data chunk")


def decode(path: str | os.PathLike) -> tuple[np.ndarray, int]:
    """Decode a PCM/float WAV (8/16/24/32-bit, any channels) to float32 (frames, channels)."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise AudioDecodeError("file not found")
    if os.path.getsize(path) == 0:
        raise AudioDecodeError("empty file (0 bytes)")
    _check_riff_size(path)
    try:
        data, sr = sf.read(path, dtype="float32", always_2d=True)
    except Exception as e:  # libsndfile raises several types for corrupt input
        raise AudioDecodeError(f"cannot decode: {e}") from e
    if data.shape[0] == 0:
        raise AudioDecodeError("no audio frames")
    check_finite(data, int(sr))
    return data, int(sr)


def check_finite(data: np.ndarray, sample_rate: int) -> None:
    """Refuse NaN/Inf samples (float WAVs can hold them): one would make every loss, mel and
    probability it touches NaN, silently, so such a file is a bad file like a corrupt one."""
    finite = np.isfinite(data)
    if finite.all():
        return
    nan = int(np.isnan(data).sum())
    inf = int(data.size - finite.sum()) - nan
    first = int(np.argmin(finite.all(axis=1)))
    what = " and ".join(f"{n} {kind}" for n, kind in ((nan, "NaN"), (inf, "infinite")) if n)
    raise AudioDecodeError(
        f"non-finite samples: {what} value(s), the first at {first / sample_rate:.3f} s"
    )


def to_mono(data: np.ndarray) -> np.ndarray:
    return data.mean(axis=1) if data.shape[1] > 1 else data[:, 0]


@lru_cache(maxsize=32)
def _kernel_key(orig: int, new: int) -> tuple[int, int]:
    g = np.gcd(orig, new)
    return orig // g, new // g


def resample(wave: torch.Tensor, orig_sr: int, new_sr: int) -> torch.Tensor:
    if orig_sr == new_sr:
        return wave
    orig, new = _kernel_key(orig_sr, new_sr)
    return AF.resample(wave, orig, new)


def fix_length(wave: torch.Tensor, num_samples: int) -> torch.Tensor:
    """Zero-pad at the end or cut from the start, as librosa.util.fix_length does."""
    n = wave.shape[-1]
    if n >= num_samples:
        return wave[..., :num_samples]
    return torch.nn.functional.pad(wave, (0, num_samples - n))


def load_audio(
    path: str | os.PathLike, sample_rate: int, num_samples: int | None = None
) -> torch.Tensor:
    """Load a file as a mono float32 waveform at `sample_rate`, optionally of fixed length."""
    data, sr = decode(path)
    wave = resample(torch.from_numpy(np.ascontiguousarray(to_mono(data))), sr, sample_rate)
    return fix_length(wave, num_samples) if num_samples else wave
