"""The Hydra callbacks of the commands: run folders that can be written, and a multirun whose
exit status and last line say that jobs failed (the codes are `utils.cli`'s)."""

from __future__ import annotations

import pytest
from analysis_run import example_sweep, make_job
from helpers import error_lines, unwritable
from omegaconf import DictConfig, OmegaConf

from fpam_lightning.reporting.hydra_callbacks import CommandExit
from fpam_lightning.utils import cli


def sweep_config(sweep_dir) -> DictConfig:
    return OmegaConf.create({"hydra": {"sweep": {"dir": str(sweep_dir)}}})


def test_a_sweep_with_a_failed_job_exits_1_and_says_so_last(tmp_path, capsys):
    sweep = example_sweep(tmp_path)  # 5 finished jobs, one of them failed, and one unfinished
    with pytest.raises(SystemExit) as stop:
        CommandExit().on_multirun_end(sweep_config(sweep))
    assert stop.value.code == cli.SWEEP_FAILED_EXIT_CODE == 1
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert last.startswith(
        f"error: 1 of 6 job(s) of the sweep {sweep} failed (its cv_summary.md lists them); "
        "the first, job 4 (fold 2): DataError: clip 7 is silent; to resume the sweep, re-run: "
    )
    assert last.endswith(f" hydra.sweep.dir={sweep}")  # this process's command, in that folder


def test_a_sweep_without_failures_ends_normally(tmp_path, capsys):
    sweep = tmp_path / "sweep"
    make_job(sweep, 0, ["data.fold=1"], {"status": "completed", "fold": 1, "test_acc": 0.5})
    CommandExit().on_multirun_end(sweep_config(sweep))
    assert capsys.readouterr().err == ""


def test_an_unwritable_run_folder_is_one_line_and_exit_2(tmp_path, capsys):
    run_dir = tmp_path / "runs" / "today"
    with unwritable(tmp_path / "runs"), pytest.raises(SystemExit) as stop:
        CommandExit().on_run_start(OmegaConf.create({"hydra": {"run": {"dir": str(run_dir)}}}))
    assert stop.value.code == 2
    (line,) = error_lines(capsys.readouterr().err)
    assert line.startswith(f"error: cannot write the run folder {run_dir} (")
    assert "hydra.run.dir=" in line
    under_a_file = tmp_path / "file"
    under_a_file.write_text("")
    with pytest.raises(SystemExit):
        CommandExit().on_multirun_start(sweep_config(under_a_file / "sweep"))
    assert (
        "(Not a directory): choose a writable one with hydra.sweep.dir=" in capsys.readouterr().err
    )
