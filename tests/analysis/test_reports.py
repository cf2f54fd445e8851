"""The per-run files: CSV tables, the confusion matrix, embeddings, and pooling folds' reports."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from analysis_run import data_overrides, trained_run
from helpers import compose_config

from fpam_lightning.analysis.inference import FilePrediction
from fpam_lightning.analysis.reports import (
    confusion_counts,
    file_table,
    read_predictions,
    window_table,
    write_csv,
    write_embeddings,
)
from fpam_lightning.analysis.scoring import Scores
from fpam_lightning.utils.errors import FpamError

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


def test_confusion_counts_match_sklearn():
    from sklearn.metrics import confusion_matrix

    rng = np.random.default_rng(0)
    y, p = rng.integers(0, 4, 50), rng.integers(0, 4, 50)
    cm = confusion_counts(y, p, 5)  # a class that never occurs is a row and column of zeros
    np.testing.assert_array_equal(cm, confusion_matrix(y, p, labels=range(5)))
    assert cm.dtype == np.int64 and cm.sum() == 50


def test_embeddings_file_round_trip(tmp_path):
    probs = np.array([[0.7, 0.2, 0.1], [0.1, 0.1, 0.8]])
    scores = Scores(probs, np.array([0, 1]), np.array([4, 9]), np.ones((2, 5)), 0.5)
    path = write_embeddings(tmp_path / "e.npz", scores, NAMES, "epoch 3")
    z = np.load(path, allow_pickle=False)
    assert sorted(z.files) == ["class_names", "embeddings", "predicted", "targets", "title"]
    assert list(z["predicted"]) == [0, 2] and list(z["class_names"]) == NAMES
    assert str(z["title"]) == "epoch 3" and z["embeddings"].shape == (2, 5)


def test_read_predictions_errors_are_one_line(tmp_path):
    with pytest.raises(FpamError, match="is not a file: run `python -m fpam_lightning.evaluate"):
        read_predictions(tmp_path / "predictions.csv")
    write_csv(tmp_path / "predictions.csv", [], ["file", "target", "predicted", "prob_dog"])
    with pytest.raises(FpamError, match="has no predictions"):
        read_predictions(tmp_path / "predictions.csv")


# --- pooling folds (a trained checkpoint) -----------------------------------------------------
@pytest.fixture(scope="module")
def run_dir(tmp_path_factory, tiny_overrides) -> Path:
    return trained_run(tmp_path_factory, tiny_overrides)


def test_pooled_report_merges_folds(run_dir, tiny_overrides, tmp_path):
    from fpam_lightning.analysis.evaluation import evaluate
    from fpam_lightning.analysis.reports import pooled_report

    ckpt = run_dir / "checkpoints" / "last.ckpt"
    fold2 = tmp_path / "fold2"
    overrides = [f"ckpt_path={ckpt}", *data_overrides(tiny_overrides), "data.fold=2", "logger=none"]
    res = evaluate(compose_config("evaluate", overrides, fold2))
    assert res["fold"] == 2
    # run_dir's predictions.csv comes from the OutOfFoldPredictions callback (fold 1).
    train_res = json.loads((run_dir / "results.json").read_text())
    fold1 = read_rows(run_dir / "predictions.csv")
    assert np.mean([int(r["correct"]) for r in fold1]) == pytest.approx(train_res["test_acc"])
    pooled = pooled_report([run_dir, fold2, tmp_path / "absent"], tmp_path / "pooled")
    assert pooled["folds"] == [1, 2] and pooled["num_clips"] == 16
    assert pooled["missing"] == [str(tmp_path / "absent")]
    rows = read_rows(tmp_path / "pooled" / "predictions.csv")
    assert len(rows) == 16
    assert pooled["accuracy"] == pytest.approx(np.mean([int(r["correct"]) for r in rows]))
    assert np.sum(pooled["confusion_matrix"]) == 16
    assert (tmp_path / "pooled" / "confusion_matrix.png").stat().st_size > 0
