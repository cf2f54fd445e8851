"""Waveform cache: decode and resample every clip once, then memory-map one array per setting.

The key covers the audio settings and the data set's file list (names, sizes and modification
times), so changing either builds a new cache. The array is written under a temporary name and
renamed last, so an interrupted build never leaves a cache that a later run trusts. A file lock
lets parallel runs (a swept multirun over folds) share one build instead of racing.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from itertools import repeat
from pathlib import Path

import numpy as np
import torch
from filelock import FileLock
from tqdm import tqdm

from ..utils.io import atomic_path, read_json, write_json_atomic
from .audio import AudioDecodeError, load_audio

log = logging.getLogger(__name__)
CACHE_VERSION = 2


@dataclass
class CachedWaves:
    """The memory-mapped (N, samples) float32 array and the clips that failed to decode."""

    waves: np.ndarray
    bad: dict[int, str]  # index into the file list -> reason
    path: Path
    built: bool = False  # True when this call decoded the audio (False: loaded from disk)


def cache_key(files: list[str], audio_dir: Path, sample_rate: int, num_samples: int) -> str:
    """A hash of the settings and of every file's name, size and mtime (-1 when missing)."""
    h = hashlib.sha256()
    h.update(json.dumps([CACHE_VERSION, sample_rate, num_samples]).encode())
    for f in files:
        try:
            st = (audio_dir / f).stat()
            sig = f"{st.st_size}:{st.st_mtime_ns}"
        except OSError:
            sig = "-1"
        h.update(f"{f}\0{sig}\n".encode())
    return h.hexdigest()[:16]


def cache_paths(
    cache_dir: Path,
    name: str,
    files: list[str],
    audio_dir: Path,
    sample_rate: int,
    num_samples: int,
) -> tuple[Path, Path]:
    """(array, metadata) paths of the cache for these files and settings."""
    key = cache_key(files, audio_dir, sample_rate, num_samples)
    stem = f"{name}_{sample_rate}hz_{num_samples}_{key}"
    return cache_dir / f"{stem}.npy", cache_dir / f"{stem}.json"


def _decode_into(out: np.ndarray, i: int, path: Path, sr: int, n: int) -> str | None:
    try:
        out[i] = load_audio(path, sr, n).numpy()
        return None
    except AudioDecodeError as e:
        out[i] = 0.0
        return str(e)


def _try_load(
    array_path: Path, meta_path: Path, files: list[str], num_samples: int
) -> CachedWaves | None:
    if not (array_path.exists() and meta_path.exists()):
        return None
    try:
        meta = read_json(meta_path)
        waves = np.load(array_path, mmap_mode="r")
    except (OSError, ValueError) as e:
        log.warning("cache %s is unreadable (%s); rebuilding", array_path, e)
        return None
    if waves.shape == (len(files), num_samples) and meta.get("files") == files:
        return CachedWaves(waves, {int(k): v for k, v in meta["bad"].items()}, array_path)
    log.warning("cache %s does not match its file list; rebuilding", array_path)
    return None


def build_or_load(
    name: str,
    files: list[str],
    audio_dir: Path,
    cache_dir: Path,
    sample_rate: int,
    num_samples: int,
    workers: int | None = None,
) -> CachedWaves:
    """Return the cache for these files and settings, building it first when absent."""
    array_path, meta_path = cache_paths(cache_dir, name, files, audio_dir, sample_rate, num_samples)
    cached = _try_load(array_path, meta_path, files, num_samples)
    if cached is not None:
        return cached
    cache_dir.mkdir(parents=True, exist_ok=True)
    with FileLock(str(array_path) + ".lock"):
        cached = _try_load(array_path, meta_path, files, num_samples)  # built while we waited
        if cached is not None:
            return cached
        # Whoever holds the lock is the only builder: temporary files left here were orphaned
        # by an interrupted build and are never read, only removed.
        for stale in cache_dir.glob(f".{array_path.name}.*.tmp"):
            log.info("removing %s, left by an interrupted cache build", stale)
            stale.unlink(missing_ok=True)
        return _build(array_path, meta_path, files, audio_dir, sample_rate, num_samples, workers)


def _build(
    array_path: Path,
    meta_path: Path,
    files: list[str],
    audio_dir: Path,
    sample_rate: int,
    num_samples: int,
    workers: int | None,
) -> CachedWaves:
    # Threads suffice: libsndfile (via cffi) and torch's resampling release the GIL. The files
    # are the parallel axis, so torch's own intra-op threads would only oversubscribe the CPU.
    workers = workers or min(8, os.cpu_count() or 1)
    log.info("building waveform cache %s (%d clips, %d threads)", array_path, len(files), workers)
    torch_threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return _write(array_path, meta_path, files, audio_dir, sample_rate, num_samples, workers)
    finally:
        torch.set_num_threads(torch_threads)


def _write(
    array_path: Path,
    meta_path: Path,
    files: list[str],
    audio_dir: Path,
    sample_rate: int,
    num_samples: int,
    workers: int,
) -> CachedWaves:
    with atomic_path(array_path) as tmp:
        out = np.lib.format.open_memmap(
            tmp, mode="w+", dtype=np.float32, shape=(len(files), num_samples)
        )
        with ThreadPoolExecutor(workers) as pool:
            n = len(files)
            jobs = pool.map(
                _decode_into,
                repeat(out, n),
                range(n),
                (audio_dir / f for f in files),
                repeat(sample_rate, n),
                repeat(num_samples, n),
            )
            errors = list(
                tqdm(
                    jobs,
                    total=len(files),
                    desc=f"decoding {array_path.stem}",
                    unit="clip",
                    disable=None,
                )
            )
        out.flush()
        del out
        bad = {i: e for i, e in enumerate(errors) if e is not None}
        # The metadata goes first: the array's rename is the commit point.
        write_json_atomic(
            meta_path,
            {
                "files": files,
                "bad": bad,
                "sample_rate": sample_rate,
                "num_samples": num_samples,
                "version": CACHE_VERSION,
            },
        )
    return CachedWaves(np.load(array_path, mmap_mode="r"), bad, array_path, built=True)
