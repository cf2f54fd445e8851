"""Reading sweep folders as Hydra leaves them: the grid, the jobs, fold accuracies."""

from __future__ import annotations

import pytest
from analysis_run import done, make_job

from fpam_lightning.stats.runs import collect_fold_accuracies, collect_jobs, expected_grid
from fpam_lightning.utils.errors import FpamError


def test_grid_from_multirun_yaml_cli_overrides_params(sweep):
    grid = expected_grid(sweep)
    assert grid == {"attention": ["none", "fpam"], "data.fold": ["1", "2", "3"]}
    assert [j.fold for j in collect_jobs(sweep)] == [1, 2, 3, 1, 2, 3]
    assert [j.status for j in collect_jobs(sweep)] == [
        "completed",
        "completed",
        "completed",
        "completed",
        "failed",
        "unfinished",
    ]


def test_fold_accuracies_by_configuration_skip_unfinished_and_failed(sweep, tmp_path):
    mixup = {**done(1, 0.5), "mixup": True}
    make_job(tmp_path / "other", 0, ["mixup=on"], mixup)
    groups = collect_fold_accuracies([sweep, tmp_path / "other" / "0" / "results.json"])
    assert groups == {"resnet18+fpam": [0.50, 0.25, 1.00, 0.75], "resnet18+fpam+mixup": [0.5]}
    with pytest.raises(FpamError, match="no completed results.json"):
        collect_fold_accuracies([tmp_path / "nothing"])
