"""summarize: the command rebuilds a sweep's summary and rejects what is not a sweep.

The summary itself (rows, missing, failed and unfinished jobs, the files) is tested in
tests/stats/test_cv_summary.py; a real multirun writing it through the Hydra callback in
test_sweeps.py.
"""

from __future__ import annotations

from analysis_run import example_sweep
from helpers import run_cli

from fpam_lightning.summarize import main


def test_cli_rebuilds_and_rejects_an_empty_folder(tmp_path, capsys):
    sweep = example_sweep(tmp_path)
    proc = run_cli("fpam_lightning.summarize", str(sweep))
    assert "attention=none" in proc.stdout and (sweep / "cv_summary.md").exists()
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main([str(empty)]) == 2
    assert (
        capsys.readouterr().err
        == f"error: no job folders (results.json or .hydra/) under {empty}\n"
    )
    assert main([str(tmp_path / "absent")]) == 2
    assert capsys.readouterr().err == f"error: {tmp_path / 'absent'} is not a folder\n"
