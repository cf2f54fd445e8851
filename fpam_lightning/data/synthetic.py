"""A synthetic data set in the official ESC-50 layout, so the whole real path runs offline.

Every class is a harmonic tone with its own pitch and amplitude-modulation rate, buried in noise
at a random level and started at a random time: learnable, but not by a constant.
"""

from __future__ import annotations

import csv
import json
import logging
import shutil
from pathlib import Path

import numpy as np
import soundfile as sf

from .prepare import build_lock, staging_folder
from .tables import ESC50_LAYOUT, US8K_LAYOUT

log = logging.getLogger(__name__)


def synthetic_clip(target: int, seconds: float, sample_rate: int, rng: np.random.Generator):
    n = int(round(seconds * sample_rate))
    t = np.arange(n) / sample_rate
    f0 = 220.0 * 2 ** (target / 3) * rng.uniform(0.97, 1.03)
    am_rate = 2.0 + 3.0 * (target % 4)
    tone = sum(np.sin(2 * np.pi * f0 * h * t + rng.uniform(0, 2 * np.pi)) / h for h in (1, 2, 3))
    envelope = 0.5 * (1 + np.sin(2 * np.pi * am_rate * t + rng.uniform(0, 2 * np.pi)))
    onset = rng.integers(0, n // 4)
    envelope[:onset] = 0.0
    noise = rng.standard_normal(n) * rng.uniform(0.05, 0.3)
    x = 0.3 * tone * envelope + noise
    return (x / (np.abs(x).max() + 1e-9) * rng.uniform(0.3, 0.9)).astype(np.float32)


def synthesize_esc50(
    root: str | Path,
    num_classes: int = 10,
    clips_per_class_per_fold: int = 8,
    seconds: float = 1.0,
    sample_rate: int = 44100,
    num_folds: int = 5,
    seed: int = 0,
) -> Path:
    """Write `audio/{fold}-{id}-{take}-{target}.wav` and `meta/esc50.csv` under `root`, once."""
    root = Path(root)
    settings = dict(
        num_classes=num_classes,
        clips_per_class_per_fold=clips_per_class_per_fold,
        seconds=seconds,
        sample_rate=sample_rate,
        num_folds=num_folds,
        seed=seed,
    )
    stamp = root / "meta" / "synthetic.json"
    if stamp.exists() and json.loads(stamp.read_text()) == settings:
        return root
    # Parallel sweep jobs on an empty folder: one generates, the others wait and reuse it.
    with build_lock(root):
        if stamp.exists() and json.loads(stamp.read_text()) == settings:
            return root
        log.info("generating synthetic ESC-50-layout data in %s", root)
        with staging_folder(root) as staging:
            _write_esc50(staging, settings)
            (staging / "meta" / "synthetic.json").write_text(json.dumps(settings))
            shutil.rmtree(root, ignore_errors=True)
            staging.rename(root)
    return root


def _write_esc50(staging: Path, settings: dict) -> None:
    num_classes, seconds = settings["num_classes"], settings["seconds"]
    sample_rate = settings["sample_rate"]
    (staging / "audio").mkdir(parents=True)
    (staging / "meta").mkdir()
    rng = np.random.default_rng(settings["seed"])
    rows = []
    clip_id = 100000
    for fold in range(1, settings["num_folds"] + 1):
        for target in range(num_classes):
            for _ in range(settings["clips_per_class_per_fold"]):
                clip_id += 1
                name = f"{fold}-{clip_id}-A-{target}.wav"
                sf.write(
                    staging / "audio" / name,
                    synthetic_clip(target, seconds, sample_rate, rng),
                    sample_rate,
                    subtype="PCM_16",
                )
                rows.append([name, fold, target, f"class_{target:02d}", target < 10, clip_id, "A"])
    with open(staging / ESC50_LAYOUT.csv, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(ESC50_LAYOUT.columns)
        w.writerows(rows)


US8K_CLASSES = (
    "air_conditioner",
    "car_horn",
    "children_playing",
    "dog_bark",
    "drilling",
    "engine_idling",
    "gun_shot",
    "jackhammer",
    "siren",
    "street_music",
)
# Every WAV encoding UrbanSound8K holds: (libsndfile subtype, sample rate, channels).
US8K_FORMATS = (
    ("PCM_U8", 8000, 1),
    ("PCM_16", 44100, 2),
    ("PCM_24", 96000, 2),
    ("FLOAT", 48000, 1),
    ("PCM_32", 22050, 1),
    ("PCM_16", 11025, 1),
    ("PCM_24", 16000, 1),
    ("FLOAT", 32000, 2),
)


def synthesize_us8k(
    root: str | Path,
    num_classes: int = 10,
    clips_per_class_per_fold: int = 1,
    seconds: float = 1.0,
    num_folds: int = 10,
    seed: int = 0,
) -> Path:
    """Write `audio/fold{k}/{fsID}-{classID}-{occurrence}-{slice}.wav` and
    `metadata/UrbanSound8K.csv` under `root`, cycling through every format of `US8K_FORMATS`
    and clip lengths up to `seconds` (UrbanSound8K's slices are at most 4 s, many shorter)."""
    root = Path(root)
    rng = np.random.default_rng(seed)
    (root / "metadata").mkdir(parents=True, exist_ok=True)
    rows = []
    k = 0
    for fold in range(1, num_folds + 1):
        for target in range(num_classes):
            for _ in range(clips_per_class_per_fold):
                subtype, sr, channels = US8K_FORMATS[k % len(US8K_FORMATS)]
                fs_id = 100000 + 37 * k
                name = f"{fs_id}-{target}-0-{k % 7}.wav"
                length = seconds * rng.uniform(0.5, 1.0)
                x = synthetic_clip(target, length, sr, rng)
                if channels == 2:
                    x = np.stack([x, 0.5 * x], axis=1)
                path = root / "audio" / f"fold{fold}" / name
                path.parent.mkdir(parents=True, exist_ok=True)
                sf.write(path, x, sr, subtype=subtype)
                start = round(float(rng.uniform(0, 30)), 6)
                rows.append(
                    [
                        name,
                        fs_id,
                        start,
                        round(start + length, 6),
                        1 + k % 2,
                        fold,
                        target,
                        US8K_CLASSES[target],
                    ]
                )
                k += 1
    with open(root / US8K_LAYOUT.csv, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(US8K_LAYOUT.columns)
        w.writerows(rows)
    return root
