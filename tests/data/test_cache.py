"""The waveform cache: built once, reused, rebuilt when settings or files change, never trusted
after an interrupted build; NaN/Inf clips recorded as bad at build time; the caches a rebuild
replaces removed; an unwritable folder named in one line."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import soundfile as sf
from helpers import unwritable

from fpam_lightning.data import cache as cache_module
from fpam_lightning.data.cache import build_or_load, cache_paths
from fpam_lightning.utils.errors import DataError

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


def poison(path, value: float = float("nan")):
    """Rewrite a clip as a float WAV holding `value` in its first samples."""
    data, sr = sf.read(path, dtype="float32")
    data[:5] = value
    sf.write(path, data, sr, subtype="FLOAT")


def test_non_finite_clip_is_recorded_bad_once_at_build(tmp_path, monkeypatch):
    root = make_esc50(tmp_path / "esc", seconds=0.25)
    audio, cache, files = root / "audio", tmp_path / "cache", files_of(root)
    poison(audio / files[3])
    poison(audio / files[7], float("inf"))
    built = build_or_load("esc", files, audio, cache, 16000, 4000)
    assert built.built and sorted(built.bad) == [3, 7]
    assert "non-finite samples: 5 NaN" in built.bad[3] and "5 infinite" in built.bad[7]
    assert np.isfinite(built.waves).all()  # never NaN in the array: the row is zeros
    meta = json.loads(built.path.with_suffix(".json").read_text())
    assert meta["finite_checked"] and meta["audio_dir"] == str(audio)

    def no_decoding(*args, **kwargs):
        raise AssertionError("a built cache is not decoded again")

    monkeypatch.setattr(cache_module, "load_audio", no_decoding)
    again = build_or_load("esc", files, audio, cache, 16000, 4000)
    assert not again.built and again.bad == built.bad


def test_cache_built_before_the_check_is_scanned_and_left_as_it_is(tmp_path):
    """A cache written by an earlier version holds the NaN clip as decoded: found on load."""
    root = make_esc50(tmp_path / "esc", seconds=0.25)
    audio, cache, files = root / "audio", tmp_path / "cache", files_of(root)
    built = build_or_load("esc", files, audio, cache, 16000, 4000)
    meta_path = built.path.with_suffix(".json")
    meta = json.loads(meta_path.read_text())
    del meta["finite_checked"], meta["audio_dir"]
    meta_path.write_text(json.dumps(meta))
    old = np.load(built.path, mmap_mode="r+")
    old[5, 100] = np.nan
    old.flush()
    del old
    stamps = [p.stat().st_mtime_ns for p in (built.path, meta_path)]
    loaded = build_or_load("esc", files, audio, cache, 16000, 4000)
    assert not loaded.built and list(loaded.bad) == [5] and "non-finite" in loaded.bad[5]
    assert [p.stat().st_mtime_ns for p in (built.path, meta_path)] == stamps


def test_a_rebuild_removes_the_caches_it_replaces(tmp_path):
    root = make_esc50(tmp_path / "esc", seconds=0.25)
    audio, cache, files = root / "audio", tmp_path / "cache", files_of(root)
    first = build_or_load("esc", files, audio, cache, 16000, 4000)
    other_length = build_or_load("esc", files, audio, cache, 16000, 2000)  # another setting
    twin = make_esc50(tmp_path / "twin", seconds=0.25, seed=1)  # same names, another folder
    elsewhere = build_or_load("esc", files, twin / "audio", cache, 16000, 4000)
    sf.write(audio / files[0], np.zeros(1000), 44100, subtype="PCM_16")  # a file changes
    rebuilt = build_or_load("esc", files, audio, cache, 16000, 4000)
    assert rebuilt.built and rebuilt.path != first.path
    assert not first.path.exists() and not first.path.with_suffix(".json").exists()
    assert not (cache / f"{first.path.name}.lock").exists()
    for kept in (rebuilt, other_length, elsewhere):
        assert kept.path.exists() and kept.path.with_suffix(".json").exists()
    assert len(list(cache.glob("*.npy"))) == 3
    assert np.asarray(first.waves).shape == (60, 4000)  # a reader's memory map outlives it


def test_unwritable_cache_folder_says_so_and_names_the_setting(tmp_path):
    root = make_esc50(tmp_path / "esc", seconds=0.25)
    audio, files = root / "audio", files_of(root)
    with unwritable(root) as how, pytest.raises(DataError) as err:
        build_or_load("esc", files, audio, root / ".fpam_cache", 16000, 4000)
    message = str(err.value)
    assert f"cannot write the waveform cache in {root / '.fpam_cache'}" in message, how
    assert "data.cache_dir=" in message and "\n" not in message
    under_a_file = root / "meta" / "esc50.csv" / "cache"  # a real path no one can create
    with pytest.raises(DataError, match="Not a directory.*data.cache_dir="):
        build_or_load("esc", files, audio, under_a_file, 16000, 4000)
