"""Waveform cache: decode and resample every clip once, then memory-map one array per setting.

The key covers the audio settings and the data set's file list (names, sizes and modification
times), so changing either builds a new cache. The array is written under a temporary name and
renamed last, so an interrupted build never leaves a cache that a later run trusts. A file lock
lets parallel runs (a swept multirun over folds) share one build instead of racing.

Every clip is checked once, at build time: one that fails to decode or holds NaN/Inf samples is
recorded as bad in the metadata. A build replaces the caches of the same data set, settings and
file names that an earlier version of the files left (`remove_stale`), so a shared cache folder
does not grow with every edit. A folder that cannot be written fails with one line that names
it and `data.cache_dir`.
"""

from __future__ import annotations

import errno
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

from ..utils.errors import DataError
from ..utils.io import atomic_path, read_json, write_json_atomic
from .audio import AudioDecodeError, load_audio

log = logging.getLogger(__name__)
CACHE_VERSION = 2
# Errors that mean "this folder cannot take the cache here", not "the audio is bad".
UNWRITABLE = {errno.EACCES, errno.EPERM, errno.EROFS, errno.ENOSPC, errno.EDQUOT, errno.ENOTDIR,
              errno.EEXIST}  # fmt: skip
SCAN_ROWS = 256  # clips per chunk when scanning an older cache for NaN/Inf


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


def _prefix(name: str, sample_rate: int, num_samples: int) -> str:
    return f"{name}_{sample_rate}hz_{num_samples}_"


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
    stem = _prefix(name, sample_rate, num_samples) + key
    return cache_dir / f"{stem}.npy", cache_dir / f"{stem}.json"


def _decode_into(out: np.ndarray, i: int, path: Path, sr: int, n: int) -> str | None:
    try:
        out[i] = load_audio(path, sr, n).numpy()
        return None
    except (AudioDecodeError, OSError) as e:  # OSError: a file this user may not read
        out[i] = 0.0
        return str(e) if isinstance(e, AudioDecodeError) else f"cannot read: {e.strerror or e}"


def nonfinite_rows(waves: np.ndarray) -> dict[int, str]:
    """Clips of a cache holding NaN/Inf, for caches built before the decoder refused them."""
    bad = {}
    for start in range(0, len(waves), SCAN_ROWS):
        rows = ~np.isfinite(waves[start : start + SCAN_ROWS]).all(axis=1)
        for i in np.flatnonzero(rows):
            bad[start + int(i)] = "non-finite samples (NaN or infinite values)"
    return bad


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
        bad = {int(k): v for k, v in meta["bad"].items()}
        if not meta.get("finite_checked"):  # built before the check: scan, leave the file as is
            log.info("scanning %s for NaN/Inf clips (a cache built before that check)", array_path)
            bad = {**nonfinite_rows(waves), **bad}
        return CachedWaves(waves, bad, array_path)
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
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        with FileLock(str(array_path) + ".lock"):
            cached = _try_load(array_path, meta_path, files, num_samples)  # built meanwhile
            if cached is not None:
                return cached
            # Whoever holds the lock is the only builder: temporary files left here were
            # orphaned by an interrupted build and are never read, only removed.
            for stale in cache_dir.glob(f".{array_path.name}.*.tmp"):
                log.info("removing %s, left by an interrupted cache build", stale)
                stale.unlink(missing_ok=True)
            built = _build(
                array_path, meta_path, files, audio_dir, sample_rate, num_samples, workers
            )
    except OSError as e:
        if e.errno not in UNWRITABLE:
            raise
        raise DataError(
            f"cannot write the waveform cache in {cache_dir} ({e.strerror or e}): set "
            "data.cache_dir=/a/writable/folder to keep it elsewhere (a read-only or shared "
            "data set needs one)"
        ) from None
    remove_stale(array_path, name, sample_rate, num_samples, files, audio_dir)
    return built


def remove_stale(
    keep: Path, name: str, sample_rate: int, num_samples: int, files: list[str], audio_dir: Path
) -> list[Path]:
    """Delete the caches that this build replaces: same data set, settings, audio folder and
    file names, other file contents (sizes or times). Caches of other settings stay; so do
    those of older versions of this code, which do not record their audio folder.

    A run still reading a removed array keeps its memory map (POSIX unlink semantics).
    """
    removed = []
    for meta_path in keep.parent.glob(f"{_prefix(name, sample_rate, num_samples)}*.json"):
        array_path = meta_path.with_suffix(".npy")
        if array_path == keep:
            continue
        try:
            meta = read_json(meta_path)
        except (OSError, ValueError):
            continue
        if meta.get("audio_dir") != str(audio_dir) or meta.get("files") != files:
            continue
        lock = FileLock(str(array_path) + ".lock", timeout=0)
        try:
            with lock:  # not while another process builds it
                for path in (array_path, meta_path):
                    path.unlink(missing_ok=True)
            Path(lock.lock_file).unlink(missing_ok=True)
        except (OSError, TimeoutError):
            continue
        log.info("removed stale waveform cache %s (built from older versions of the files)",
                 array_path.name)  # fmt: skip
        removed.append(array_path)
    return removed


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
                "audio_dir": str(audio_dir),  # whose caches a later build may replace
                "finite_checked": True,  # the decoder refused NaN/Inf clips
            },
        )
    return CachedWaves(np.load(array_path, mmap_mode="r"), bad, array_path, built=True)
