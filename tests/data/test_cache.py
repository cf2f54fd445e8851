"""The waveform cache: built once, reused, rebuilt when settings or files change, never trusted
after an interrupted build."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import numpy as np
import soundfile as sf

from fpam_lightning.data.cache import build_or_load, cache_paths

from .conftest import make_esc50


def files_of(root):
    return sorted(p.name for p in (root / "audio").iterdir())


def test_built_once_reused_and_invalidated(tmp_path):
    root = make_esc50(tmp_path / "esc", seconds=0.25)
    audio, cache, files = root / "audio", tmp_path / "cache", files_of(root)
    first = build_or_load("esc", files, audio, cache, 16000, 4000)
    assert first.built and first.waves.shape == (60, 4000) and first.bad == {}
    stamp = first.path.stat().st_mtime_ns
    again = build_or_load("esc", files, audio, cache, 16000, 4000)
    assert not again.built and again.path == first.path and first.path.stat().st_mtime_ns == stamp
    np.testing.assert_array_equal(again.waves, first.waves)
    # a setting changes: sample rate, length
    assert build_or_load("esc", files, audio, cache, 22050, 4000).built
    assert build_or_load("esc", files, audio, cache, 16000, 3000).built
    # the file list changes
    fewer = build_or_load("esc", files[:-1], audio, cache, 16000, 4000)
    assert fewer.built and fewer.waves.shape == (59, 4000)
    # a file's content changes (new size and mtime): its new audio is decoded
    sf.write(audio / files[0], np.zeros(1000), 44100, subtype="PCM_16")
    changed = build_or_load("esc", files, audio, cache, 16000, 4000)
    assert changed.built and changed.path != first.path and not changed.waves[0].any()
    assert changed.waves[1].any()
    assert not list(cache.glob("*.tmp"))


def test_leftover_temporary_file_is_never_trusted(tmp_path):
    root = make_esc50(tmp_path / "esc", seconds=0.25)
    audio, cache, files = root / "audio", tmp_path / "cache", files_of(root)
    array_path, meta_path = cache_paths(cache, "esc", files, audio, 16000, 4000)
    cache.mkdir()
    # What a build killed after writing the metadata, before the rename, leaves behind:
    leftover = cache / f".{array_path.name}.abc123.tmp"
    with open(leftover, "wb") as f:
        np.save(f, np.full((60, 4000), 7.0, dtype=np.float32))
    meta_path.write_text('{"files": [], "bad": {}}')
    cached = build_or_load("esc", files, audio, cache, 16000, 4000)
    assert cached.built and not (np.asarray(cached.waves) == 7.0).any()
    assert not leftover.exists()


SCRIPT = """
import sys, torch
from pathlib import Path
from fpam_lightning.data.cache import build_or_load
torch.set_num_threads(1)
audio, cache = Path(sys.argv[1]), Path(sys.argv[2])
build_or_load("slow", ["long.wav"] * 200, audio, cache, 16000, 16000, workers=1)
print("finished")
"""


def test_killed_build_leaves_no_trusted_cache_and_rebuilds(tmp_path):
    audio, cache = tmp_path / "audio", tmp_path / "cache"
    audio.mkdir()
    rng = np.random.default_rng(0)
    sf.write(audio / "long.wav", rng.uniform(-0.5, 0.5, (96000, 2)), 96000, subtype="PCM_24")
    files = ["long.wav"] * 200
    array_path, meta_path = cache_paths(cache, "slow", files, audio, 16000, 16000)
    proc = subprocess.Popen(
        [sys.executable, "-c", SCRIPT, str(audio), str(cache)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 120
        while not list(cache.glob("*.tmp")) and time.monotonic() < deadline:
            assert proc.poll() is None, proc.communicate()
            time.sleep(0.01)
        time.sleep(0.05)  # a few clips are in the temporary array by now
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        out, _ = proc.communicate()
    assert "finished" not in out, "the build ended before it could be interrupted"
    assert not array_path.exists() and list(cache.glob("*.tmp"))
    rebuilt = build_or_load("slow", files, audio, cache, 16000, 16000)
    assert rebuilt.built and rebuilt.bad == {} and rebuilt.waves.shape == (200, 16000)
    assert np.abs(np.asarray(rebuilt.waves[-1])).max() > 0.1
    assert not list(cache.glob("*.tmp"))
