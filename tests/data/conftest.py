"""Small copies of the official layouts, written as real WAV files for the data tests."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from fpam_lightning.data.synthetic import synthesize_us8k, synthetic_clip

# The real ESC-10 classes keep their ESC-50 targets; two others stand for the rest of ESC-50.
ESC10 = {
    0: "dog",
    1: "rooster",
    10: "rain",
    11: "sea_waves",
    12: "crackling_fire",
    20: "crying_baby",
    21: "sneezing",
    38: "clock_tick",
    40: "helicopter",
    41: "chainsaw",
}
OTHERS = {5: "cat", 30: "door_wood_knock"}
ESC_COLUMNS = ["filename", "fold", "target", "category", "esc10", "src_file", "take"]


def make_esc50(
    root: Path, per_fold: int = 1, seconds: float = 0.5, sample_rate: int = 44100, seed: int = 0
) -> Path:
    """ESC-50 layout: audio/{fold}-{src}-{take}-{target}.wav and meta/esc50.csv (12 classes)."""
    rng = np.random.default_rng(seed)
    (root / "audio").mkdir(parents=True, exist_ok=True)
    (root / "meta").mkdir(parents=True, exist_ok=True)
    rows, src = [], 100000
    for fold in range(1, 6):
        for target, name in sorted({**ESC10, **OTHERS}.items()):
            for _ in range(per_fold):
                src += 1
                fname = f"{fold}-{src}-A-{target}.wav"
                sf.write(
                    root / "audio" / fname,
                    synthetic_clip(target % 12, seconds, sample_rate, rng),
                    sample_rate,
                    subtype="PCM_16",
                )
                rows.append([fname, fold, target, name, target in ESC10, src, "A"])
    write_csv(root / "meta" / "esc50.csv", ESC_COLUMNS, rows)
    return root


def write_csv(path: Path, header: list[str], rows: list[list], bom: bool = False) -> None:
    """Write a CSV; `bom` writes it as spreadsheet programs save "CSV UTF-8": a byte-order mark
    first and CRLF line ends."""
    with open(path, "w", newline="", encoding="utf-8-sig" if bom else "utf-8") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(rows)


def read_csv(path: Path) -> tuple[list[str], list[list[str]]]:
    with open(path, newline="", encoding="utf-8-sig") as f:
        rows = list(csv.reader(f))
    return rows[0], rows[1:]


@pytest.fixture
def esc_dir(tmp_path) -> Path:
    """A fresh 12-class ESC-50-layout copy (60 clips of 0.5 s at 44.1 kHz)."""
    return make_esc50(tmp_path / "ESC-50-master")


@pytest.fixture
def us8k_dir(tmp_path) -> Path:
    """A fresh UrbanSound8K-layout copy: 10 classes x 10 folds, every WAV encoding of US8K."""
    return synthesize_us8k(tmp_path / "UrbanSound8K", clips_per_class_per_fold=1, seconds=0.5)
