"""The cross-validation summary on sweep folders laid out as Hydra leaves them.

The end-to-end check (a real multirun writing cv_summary through the Hydra callback) is in
test_sweeps.py; here the sweep folders are written by hand so that failed, missing and
unfinished jobs can be placed exactly.
"""

from __future__ import annotations

import json
import statistics
from pathlib import Path

import pytest
from helpers import run_cli
from omegaconf import OmegaConf

from fpam_lightning.summarize import collect_jobs, expected_grid, main, summarize


def make_job(sweep: Path, num: int, overrides: list[str], results: dict | None) -> Path:
    job = sweep / str(num)
    (job / ".hydra").mkdir(parents=True)
    OmegaConf.save(OmegaConf.create(overrides), job / ".hydra" / "overrides.yaml")
    if results is not None:
        (job / "results.json").write_text(json.dumps(results))
    return job


def done(fold: int, acc: float, best: float | None = None) -> dict:
    return {
        "status": "completed",
        "fold": fold,
        "test_acc": acc,
        "best_epoch_test_acc": best,
        "dataset": "synthetic_esc50",
        "backbone": "resnet18",
        "attention": "fpam",
        "variant": "paper",
        "mixup": False,
    }


@pytest.fixture
def sweep(tmp_path) -> Path:
    """A 2 x 3 grid (attention x fold) with one failed job and one killed before results."""
    sweep = tmp_path / "multiruns" / "t"
    sweep.mkdir(parents=True)
    OmegaConf.save(
        OmegaConf.create(
            {
                "hydra": {
                    "sweeper": {"params": {"attention": "none,fpam", "data.fold": "1,2,3,4,5"}},
                    "overrides": {"task": ["data=synthetic", "data.fold=1,2,3"]},
                }
            }
        ),
        sweep / "multirun.yaml",
    )
    common = ["data=synthetic"]
    make_job(sweep, 0, [*common, "attention=none", "data.fold=1"], done(1, 0.50, 0.75))
    make_job(sweep, 1, [*common, "attention=none", "data.fold=2"], done(2, 0.25, 0.50))
    make_job(sweep, 2, [*common, "attention=none", "data.fold=3"], done(3, 1.00, 1.00))
    make_job(sweep, 3, [*common, "attention=fpam", "data.fold=1"], done(1, 0.75, 0.75))
    make_job(
        sweep,
        4,
        [*common, "attention=fpam", "data.fold=2"],
        {"status": "failed", "fold": 2, "error": "DataError: clip 7 is silent"},
    )
    make_job(sweep, 5, [*common, "attention=fpam", "data.fold=3"], None)  # killed mid-run
    return sweep


def test_grid_from_multirun_yaml_cli_overrides_params(sweep):
    grid = expected_grid(sweep)
    assert grid == {"attention": ["none", "fpam"], "data.fold": ["1", "2", "3"]}
    assert [j.fold for j in collect_jobs(sweep)] == [1, 2, 3, 1, 2, 3]


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
    assert "| attention=none | synthetic_esc50 | 50.0 | 25.0 | 100.0 |" in md
    assert "best-epoch-on-test" in md and "missing fold(s) [2, 3]" in md
    assert "clip 7 is silent" in md
    assert (sweep / "cv_summary.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not list(sweep.glob(".cv_summary*"))  # atomic writes leave no temporary files


def test_configuration_never_started_is_a_row_of_missing_folds(tmp_path):
    sweep = tmp_path / "s"
    sweep.mkdir()
    OmegaConf.save(
        OmegaConf.create(
            {
                "hydra": {
                    "sweeper": {"params": {"mixup": "off,on", "data.fold": "1,2"}},
                    "overrides": {"task": []},
                }
            }
        ),
        sweep / "multirun.yaml",
    )
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


def test_cli_rebuilds_and_rejects_an_empty_folder(sweep, tmp_path):
    proc = run_cli("fpam_lightning.summarize", str(sweep))
    assert "attention=none" in proc.stdout and (sweep / "cv_summary.md").exists()
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main([str(empty)]) == 2
