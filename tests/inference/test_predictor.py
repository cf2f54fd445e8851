"""predict's tables: one row per file and one per window, written by the shared CSV writer."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from fpam_lightning.inference.predictor import FilePrediction, file_table, window_table
from fpam_lightning.utils.run_files import write_csv

NAMES = ["dog", "rain", "sea_waves"]


def read_rows(path: Path) -> list[dict]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_predict_tables_share_the_csv_writer(tmp_path):
    ok = FilePrediction(
        "a.wav",
        probs=np.array([0.2, 0.5, 0.3]),
        windows=[(0.0, 0.5, np.array([0.1, 0.6, 0.3])), (0.25, 0.75, np.array([0.3, 0.4, 0.3]))],
        duration_s=0.75,
    )
    bad = FilePrediction("b.wav", error="cannot decode")
    rows, cols = file_table([ok, bad], NAMES, 2)
    write_csv(tmp_path / "files.csv", rows, cols)
    a, b = read_rows(tmp_path / "files.csv")
    assert list(a) == cols and cols[5:9] == ["top1_class", "top1_prob", "top2_class", "top2_prob"]
    assert (a["top1_class"], a["top1_prob"], a["top2_class"]) == ("rain", "0.500000", "sea_waves")
    assert (a["status"], a["num_windows"], a["duration_s"], a["prob_dog"]) == (
        "ok",
        "2",
        "0.750",
        "0.200000",
    )
    assert (b["status"], b["error"], b["top1_class"], b["prob_rain"]) == (
        "error",
        "cannot decode",
        "",
        "",
    )
    rows, cols = window_table([ok, bad], NAMES)
    write_csv(tmp_path / "windows.csv", rows, cols)
    w = read_rows(tmp_path / "windows.csv")
    assert [(r["window"], r["start_s"], r["end_s"], r["predicted_class"]) for r in w] == [
        ("0", "0.000", "0.500", "rain"),
        ("1", "0.250", "0.750", "rain"),
    ]
    rows, cols = window_table([bad], NAMES)  # nothing to write: the header still is
    write_csv(tmp_path / "empty.csv", rows, cols)
    assert (tmp_path / "empty.csv").read_text().strip() == ",".join(cols)
