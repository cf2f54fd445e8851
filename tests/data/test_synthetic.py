"""The synthetic data set: real WAV files in the official ESC-50 layout, learnable by class."""

from __future__ import annotations

import csv
import re

import numpy as np

from fpam_lightning.data.audio import load_audio
from fpam_lightning.data.synthetic import synthesize_esc50


def test_synthetic_layout_files_and_content(tmp_path):
    root = synthesize_esc50(
        tmp_path / "syn", num_classes=3, clips_per_class_per_fold=2, seconds=0.5, sample_rate=22050
    )
    with open(root / "meta" / "esc50.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == ["filename", "fold", "target", "category", "esc10", "src_file", "take"]
    assert len(rows) == 5 * 3 * 2
    for r in rows:
        assert re.fullmatch(r"(\d)-(\d+)-([A-Z])-(\d+)\.wav", r["filename"])
        fold, _, _, target = r["filename"][:-4].split("-")
        assert fold == r["fold"] and target == r["target"]
        assert (root / "audio" / r["filename"]).is_file()
    # Decoded by the real loader, resampled to 16 kHz, at the requested length.
    wave = load_audio(root / "audio" / rows[0]["filename"], 16000)
    assert wave.shape == (8000,) and wave.abs().max() > 0.1
    # Class content differs: the dominant frequency rises with the target.
    peaks = {}
    for r in rows:
        x = load_audio(root / "audio" / r["filename"], 16000).numpy()
        spectrum = np.abs(np.fft.rfft(x))
        peaks.setdefault(int(r["target"]), []).append(np.argmax(spectrum))
    medians = [np.median(peaks[t]) for t in sorted(peaks)]
    assert medians == sorted(medians) and medians[0] < medians[-1]


def test_synthetic_generated_once(tmp_path):
    kw = dict(num_classes=2, clips_per_class_per_fold=1, seconds=0.2, sample_rate=16000)
    root = synthesize_esc50(tmp_path / "syn", **kw)
    first = {p.name: p.stat().st_mtime_ns for p in (root / "audio").iterdir()}
    synthesize_esc50(tmp_path / "syn", **kw)
    assert {p.name: p.stat().st_mtime_ns for p in (root / "audio").iterdir()} == first
