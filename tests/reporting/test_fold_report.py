"""Pooling folds' reports: a training run's fold and an evaluated fold, merged into one."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from analysis_run import data_overrides, trained_run
from helpers import compose_config


def read_rows(path: Path) -> list[dict]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


# --- pooling folds (a trained checkpoint) -----------------------------------------------------
@pytest.fixture(scope="module")
def run_dir(tmp_path_factory, tiny_overrides) -> Path:
    return trained_run(tmp_path_factory, tiny_overrides)


def test_pooled_report_merges_folds(run_dir, tiny_overrides, tmp_path):
    from fpam_lightning.reporting.evaluation import evaluate
    from fpam_lightning.reporting.fold_report import pooled_report

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
