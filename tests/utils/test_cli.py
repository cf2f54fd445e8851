"""utils.cli: the one owner of command exits, for what Hydra itself owns too (run folders, the
multirun's end) and for user errors that Hydra's `instantiate` wraps."""

from __future__ import annotations

import pytest
from analysis_run import example_sweep, make_job
from helpers import error_lines, unwritable
from hydra.errors import InstantiationException
from omegaconf import DictConfig, OmegaConf

from fpam_lightning.utils import cli
from fpam_lightning.utils.errors import DataError


def test_a_user_error_wrapped_by_instantiate_still_exits_2(capsys):
    def body(cfg):
        try:
            raise DataError("data.clip_seconds must be positive")
        except DataError as e:  # what hydra.utils.instantiate does with a constructor's error
            raise InstantiationException("Error in call to target 'X':\nDataError(...)") from e

    with pytest.raises(SystemExit) as stop:
        cli.hydra_command(body)(OmegaConf.create({}))
    assert stop.value.code == cli.USER_ERROR_EXIT_CODE
    assert error_lines(capsys.readouterr().err) == ["error: data.clip_seconds must be positive"]
    with pytest.raises(ZeroDivisionError):  # anything else still propagates in a single run
        cli.hydra_command(lambda cfg: 1 / 0)(OmegaConf.create({}))


def sweep_config(sweep_dir) -> DictConfig:
    return OmegaConf.create({"hydra": {"sweep": {"dir": str(sweep_dir)}}})


def test_a_sweep_with_a_failed_job_exits_1_and_says_so_last(tmp_path, capsys):
    sweep = example_sweep(tmp_path)  # 5 finished jobs, one of them failed, and one unfinished
    with pytest.raises(SystemExit) as stop:
        cli.CommandExit().on_multirun_end(sweep_config(sweep))
    assert stop.value.code == cli.SWEEP_FAILED_EXIT_CODE == 1
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert last == (
        f"error: 1 of 6 job(s) of the sweep {sweep} failed (its cv_summary.md lists them); "
        "the first, job 4 (fold 2): DataError: clip 7 is silent"
    )


def test_a_sweep_without_failures_ends_normally(tmp_path, capsys):
    sweep = tmp_path / "sweep"
    make_job(sweep, 0, ["data.fold=1"], {"status": "completed", "fold": 1, "test_acc": 0.5})
    cli.CommandExit().on_multirun_end(sweep_config(sweep))
    assert capsys.readouterr().err == ""


def test_an_unwritable_run_folder_is_one_line_and_exit_2(tmp_path, capsys):
    run_dir = tmp_path / "runs" / "today"
    with unwritable(tmp_path / "runs"), pytest.raises(SystemExit) as stop:
        cli.CommandExit().on_run_start(OmegaConf.create({"hydra": {"run": {"dir": str(run_dir)}}}))
    assert stop.value.code == 2
    (line,) = error_lines(capsys.readouterr().err)
    assert line.startswith(f"error: cannot write the run folder {run_dir} (")
    assert "hydra.run.dir=" in line
    under_a_file = tmp_path / "file"
    under_a_file.write_text("")
    with pytest.raises(SystemExit):
        cli.CommandExit().on_multirun_start(sweep_config(under_a_file / "sweep"))
    assert (
        "(Not a directory): choose a writable one with hydra.sweep.dir=" in capsys.readouterr().err
    )
