"""A sweep run again into its own folder runs only what is not done (training.rerun).

Real multiruns on the tiny synthetic set; the second run goes through the joblib launcher
(`hydra/launcher=local_parallel`), the first through the basic one: the rule is the launcher's
business in neither.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest
from helpers import REPO, run_cli

from fpam_lightning.utils.reruns import holder

# One job's hold on a run folder (as the SLURM launcher takes it before Hydra writes there).
HOLD = """
import sys, time
from pathlib import Path
from fpam_lightning.utils.reruns import hold
with hold(Path(sys.argv[1]), sys.argv[2], 0):
    print("holding", flush=True)
    time.sleep(float(sys.argv[3]))
"""


def test_one_live_job_per_run_folder_and_a_killed_one_lets_the_next_in(tmp_path):
    def job(name: str, seconds: int) -> subprocess.Popen:
        return subprocess.Popen(
            [sys.executable, "-c", HOLD, str(tmp_path), name, str(seconds)],
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    orphan = job("job 7_1 (start 0)", 600)
    assert orphan.stdout.readline() == "holding\n"
    assert holder(tmp_path).startswith("job 7_1 (start 0) on ")
    rerun = job("job 9 (start 0)", 0)
    time.sleep(3)
    assert rerun.poll() is None  # waits: never two writers
    orphan.kill()  # SIGKILL: the kernel releases its lock
    orphan.wait()
    out, err = rerun.communicate(timeout=60)
    assert out == "holding\n", err
    assert "in use by job 7_1 (start 0) on " in err and "still running elsewhere" in err
    assert holder(tmp_path) is None


@pytest.mark.slow  # three sweeps; .ci/run runs it beside the cluster tests
def test_rerun_skips_completed_resumes_lost_and_reruns_failed_jobs(tmp_path, tiny_overrides):
    sweep = tmp_path / "sweep"
    args = [
        "-m",
        *tiny_overrides,
        "data.fold=1,2,3",
        f"hydra.sweep.dir={sweep}",
        f"paths.log_dir={tmp_path / 'logs'}",
    ]
    run_cli("fpam_lightning.train", *args, timeout=900)
    first = {i: (sweep / str(i) / "results.json").read_text() for i in range(3)}
    assert all(json.loads(r)["status"] == "completed" for r in first.values())
    # Job 1 as the SLURM launcher records a job cancelled from outside; job 2 failed in Python.
    lost = {"status": "failed", "lost": "CANCELLED", "error": "lost: ...", "fold": 2, "seed": 0}
    (sweep / "1" / "results.json").write_text(json.dumps(lost))
    failed = {"status": "failed", "error": "RuntimeError: boom", "fold": 3, "seed": 0}
    (sweep / "2" / "results.json").write_text(json.dumps(failed))
    (sweep / "cv_summary.json").unlink()

    proc = run_cli(
        "fpam_lightning.train",
        *args,
        "hydra/launcher=local_parallel",
        env={"FPAM_JOBS": "2"},
        timeout=900,
    )
    logs = [(sweep / str(i) / "train.log").read_text() for i in range(3)]
    assert "already completed with this config: skipped" in logs[0]
    assert (sweep / "0" / "results.json").read_text() == first[0]  # untouched
    assert "resuming from" in logs[1] and "status before: failed" in logs[1]
    assert "running again from scratch" in logs[2]
    again = [json.loads((sweep / str(i) / "results.json").read_text()) for i in range(3)]
    assert [r["status"] for r in again] == ["completed"] * 3
    # Resumed from the end of training, job 1 only re-tested: the same score as the first time.
    assert again[1]["test_acc"] == json.loads(first[1])["test_acc"]
    summary = json.loads((sweep / "cv_summary.json").read_text())
    assert summary["complete"] and not summary["failed"], proc.stderr[-2000:]

    # A changed config is a different job: it runs from scratch, not from the old checkpoint.
    run_cli("fpam_lightning.train", *args[:-3], "data.fold=1", *args[-2:], "seed=1")
    log = (sweep / "0" / "train.log").read_text()
    assert (
        "running again from scratch" in log
        and json.loads((sweep / "0" / "results.json").read_text())["seed"] == 1
    )
