"""The cross-validation summary on sweep folders laid out as Hydra leaves them.

The end-to-end check (a real multirun writing cv_summary through the Hydra callback) is in
test_sweeps.py; here the sweep folders are written by hand (analysis_run.example_sweep) so that
failed, missing and unfinished jobs can be placed exactly.
"""

from __future__ import annotations

import json
import statistics

import pytest
from analysis_run import done, make_job, write_multirun_yaml

from fpam_lightning.reporting.cv_report import summarize
from fpam_lightning.stats.markdown import to_markdown


def test_summary_rows_missing_failed_and_files(sweep):
    s = summarize(sweep)
    assert s["folds"] == [1, 2, 3] and s["dims"] == ["attention"] and not s["complete"]
    rows = {r["configuration"]: r for r in s["rows"]}
    none, fpam = rows["attention=none"], rows["attention=fpam"]
    assert none["folds"] == {"1": 0.5, "2": 0.25, "3": 1.0}
    assert none["mean"] == pytest.approx(statistics.fmean([0.5, 0.25, 1.0]))
    assert none["std"] == pytest.approx(statistics.stdev([0.5, 0.25, 1.0]))
    assert none["best_epoch_mean"] == pytest.approx(0.75)
    assert none["missing_folds"] == [] and none["n_completed"] == 3
    # fpam: fold 1 only; the mean is over that fold, and the rest are reported, not averaged.
    assert fpam["mean"] == pytest.approx(0.75) and fpam["std"] is None
    assert fpam["missing_folds"] == [2, 3] and fpam["failed_folds"] == [2]
    assert fpam["n_completed"] == 1 and fpam["n_expected"] == 3
    assert s["failed"] == [
        {
            "configuration": "attention=fpam",
            "fold": 2,
            "job_dir": str(sweep / "4"),
            "error": "DataError: clip 7 is silent",
        }
    ]
    assert [(u["fold"], u["status"]) for u in s["unfinished"]] == [(3, "unfinished")]

    assert json.loads((sweep / "cv_summary.json").read_text()) == json.loads(json.dumps(s))
    md = (sweep / "cv_summary.md").read_text()
    assert md == to_markdown(s)
    assert "| attention=none | synthetic_esc50 | 50.0 | 25.0 | 100.0 |" in md
    assert "best-epoch-on-test" in md and "missing fold(s) [2, 3]" in md
    assert "clip 7 is silent" in md
    assert (sweep / "cv_summary.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not list(sweep.glob(".cv_summary*"))  # atomic writes leave no temporary files


def test_configuration_never_started_is_a_row_of_missing_folds(tmp_path):
    sweep = tmp_path / "s"
    sweep.mkdir()
    write_multirun_yaml(sweep, {"mixup": "off,on", "data.fold": "1,2"}, [])
    make_job(sweep, 0, ["mixup=off", "data.fold=1"], done(1, 0.5))
    rows = {r["configuration"]: r for r in summarize(sweep)["rows"]}
    assert rows["mixup=on"]["n_completed"] == 0 and rows["mixup=on"]["missing_folds"] == [1, 2]
    assert rows["mixup=on"]["mean"] is None
    assert rows["mixup=off"]["missing_folds"] == [2]


def test_without_multirun_yaml_rows_come_from_varying_overrides(tmp_path):
    make_job(tmp_path, 0, ["seed=0", "optim.lr=0.1", "data.fold=1"], done(1, 0.5))
    make_job(tmp_path, 1, ["seed=0", "optim.lr=0.01", "data.fold=1"], done(1, 0.25))
    s = summarize(tmp_path)
    assert s["dims"] == ["optim.lr"]
    assert sorted(r["configuration"] for r in s["rows"]) == ["optim.lr=0.01", "optim.lr=0.1"]


def test_folds_only_row_is_named_after_the_model(tmp_path):
    make_job(tmp_path, 0, ["data.fold=1"], done(1, 0.5))
    make_job(tmp_path, 1, ["data.fold=2"], {**done(2, 0.25), "mixup": True})
    (row,) = summarize(tmp_path)["rows"]
    assert row["configuration"] == "resnet18 + fpam" and row["pooled"] is None
    assert row["folds"] == {"1": 0.5, "2": 0.25} and row["mean"] == pytest.approx(0.375)
