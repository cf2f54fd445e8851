"""Fold sweeps on a real SLURM cluster (`make slurm-up` starts a one-node one; `.ci/run` does).

Every sweep is `python -m fpam_lightning.train -m ... hydra/launcher=slurm_cpu` as a user types
it, on the tiny synthetic set; what SLURM did is read back from its accounting (sacct). Skipped
where there is no cluster to submit to.
"""

from __future__ import annotations

import csv
import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from helpers import REPO, odd_overrides, run_cli

pytestmark = pytest.mark.slurm


def _cluster_answers() -> bool:
    if shutil.which("sbatch") is None:
        return False
    try:
        out = subprocess.run(
            ["sinfo", "-h", "-o", "%t"], capture_output=True, text=True, timeout=20
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    states = out.stdout.split()
    return out.returncode == 0 and any(
        not s.startswith(("down", "drain", "fail", "unk", "maint")) for s in states
    )


if not _cluster_answers():
    pytest.skip(
        "no SLURM cluster here (sbatch absent or no node up): start one with `make slurm-up`",
        allow_module_level=True,
    )


def sweep_cmd(
    tmp_path: Path, tiny_overrides: list[str], *args: str, launcher: str = "slurm_cpu"
) -> list[str]:
    return [
        "-m",
        *tiny_overrides,
        f"paths.data_dir={tmp_path / 'data'}",  # an empty data folder: the jobs generate it
        f"hydra/launcher={launcher}",
        f"hydra.sweep.dir={tmp_path / ('sweep' if launcher == 'slurm_cpu' else launcher)}",
        f"paths.log_dir={tmp_path / 'logs'}",
        *args,
    ]


def results(sweep: Path) -> dict[int, dict]:
    return {
        int(j.name): json.loads((j / "results.json").read_text())
        for j in sweep.iterdir()
        if j.name.isdigit() and (j / "results.json").exists()
    }


def sacct(job_id: str) -> dict[str, tuple[str, str]]:
    """{job or array task id: (state, exit code)} from SLURM's accounting."""
    out = subprocess.run(
        ["sacct", "-X", "-n", "-P", "-j", job_id, "--format=JobID,State,ExitCode"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rows = [line.split("|") for line in out.splitlines() if line.strip()]
    return {r[0]: (r[1].split()[0], r[2]) for r in rows}


def submitted_job(sweep: Path) -> str:
    """The SLURM job (array) id that the sweep submitted, from submitit's folder."""
    ids = {p.name.split("_")[0] for p in (sweep / ".submitit").iterdir() if p.name[0].isdigit()}
    assert len(ids) == 1, ids
    return ids.pop()


def accounted(job_id: str, n: int, timeout: float = 60) -> dict[str, tuple[str, str]]:
    """sacct's rows once all n tasks have left the running states (slurmdbd lags a little)."""
    deadline = time.time() + timeout
    while True:
        rows = sacct(job_id)
        done = [s for s, _ in rows.values() if s not in ("PENDING", "RUNNING", "REQUEUED")]
        if len(done) >= n or time.time() > deadline:
            return rows
        time.sleep(2)


def test_fold_sweep_on_an_empty_folder_runs_each_job_under_slurm_like_the_local_launcher(
    tmp_path, tiny_overrides
):
    folds = "data.fold=1,2,3,4"
    run_cli("fpam_lightning.train", *sweep_cmd(tmp_path, tiny_overrides, folds), timeout=600)
    sweep = tmp_path / "sweep"
    on_slurm = results(sweep)
    assert sorted(on_slurm) == [0, 1, 2, 3]
    assert all(r["status"] == "completed" for r in on_slurm.values())
    rows = accounted(submitted_job(sweep), 4)
    assert sorted(rows.values()) == [("COMPLETED", "0:0")] * 4, rows
    # Four jobs started together on an empty folder: one generated the data, one built the cache.
    logs = "".join((sweep / str(i) / "train.log").read_text() for i in range(4))
    assert logs.count("generating synthetic ESC-50-layout data") == 1
    assert logs.count("building waveform cache") == 1

    local = tmp_path / "basic"
    run_cli(
        "fpam_lightning.train",
        *sweep_cmd(tmp_path, tiny_overrides, folds, launcher="basic"),
        env={"OMP_NUM_THREADS": "1"},  # as each SLURM job (cpus_per_task=1)
        timeout=600,
    )
    here = results(local)
    for i in range(4):
        assert on_slurm[i]["fold"] == here[i]["fold"] == i + 1
        assert on_slurm[i]["test_acc"] == here[i]["test_acc"]
        assert on_slurm[i]["test_loss"] == pytest.approx(here[i]["test_loss"], rel=1e-5)
    a = json.loads((sweep / "cv_summary.json").read_text())
    b = json.loads((local / "cv_summary.json").read_text())
    assert a["complete"] and b["complete"]
    assert [r["mean"] for r in a["rows"]] == [r["mean"] for r in b["rows"]]


def test_a_job_that_fails_is_failed_in_slurm_accounting_and_the_others_finish(
    tmp_path, tiny_overrides
):
    proc = run_cli(
        "fpam_lightning.train",
        *sweep_cmd(tmp_path, tiny_overrides, "data.fold=1,9"),  # fold 9 fails in its job
        check=False,
        timeout=600,
    )
    assert proc.returncode == 1, proc.stderr[-3000:]
    last = proc.stderr.strip().splitlines()[-1]
    assert "1 of 2 job(s)" in last
    again = [a for a in proc.args if not a.startswith("hydra.sweep.dir=")]
    assert last.endswith(f"re-run: {shlex.join([*again, f'hydra.sweep.dir={tmp_path}/sweep'])}")
    sweep = tmp_path / "sweep"
    done = results(sweep)
    assert done[0]["status"] == "completed" and done[1]["status"] == "failed"
    job = submitted_job(sweep)
    rows = accounted(job, 2)
    assert rows[f"{job}_0"] == ("COMPLETED", "0:0")
    state, code = rows[f"{job}_1"]
    assert state == "FAILED" and code != "0:0", rows
    summary = json.loads((sweep / "cv_summary.json").read_text())
    assert [f["fold"] for f in summary["failed"]] == [9]


def _wait_for(path: Path, proc: subprocess.Popen, timeout: float = 300) -> None:
    deadline = time.time() + timeout
    while not path.exists():
        assert proc.poll() is None, proc.communicate()[1][-3000:]
        assert time.time() < deadline, f"{path} never appeared"
        time.sleep(0.5)


def _start(tmp_path: Path, args: list[str]) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "fpam_lightning.train", *args],
        cwd=REPO,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_a_job_cancelled_during_training_never_hangs_the_sweep(tmp_path, tiny_overrides):
    # Job 0 trains one epoch; job 1 would train for minutes and is scancel'led mid-way.
    args = sweep_cmd(tmp_path, tiny_overrides, "trainer.max_epochs=1,400")
    sweep = tmp_path / "sweep"
    proc = _start(tmp_path, args)
    _wait_for(sweep / "1" / "checkpoints" / "last.ckpt", proc)
    job = submitted_job(sweep)
    subprocess.run(["scancel", f"{job}_1"], check=True)
    try:
        _, err = proc.communicate(timeout=240)
    except subprocess.TimeoutExpired:
        proc.kill()
        pytest.fail("the sweep hung after one of its jobs was cancelled")
    assert proc.returncode == 1, err[-3000:]
    done = results(sweep)
    assert done[0]["status"] == "completed"
    assert done[1]["status"] == "failed" and done[1]["lost"].startswith("CANCELLED"), done[1]
    summary = json.loads((sweep / "cv_summary.json").read_text())
    assert any("CANCELLED" in f["error"] for f in summary["failed"]), summary["failed"]
    rows = accounted(job, 2)
    assert rows[f"{job}_1"][0] == "CANCELLED"
    squeue = subprocess.run(["squeue", "-h", "-j", job], capture_output=True, text=True)
    assert squeue.stdout.strip() == ""  # no array task left running


def test_time_limit_signal_requeues_and_the_job_resumes_its_checkpoint_and_wandb_run(
    tmp_path, tiny_overrides
):
    """SLURM's warning before the time limit (USR2, as `--signal=USR2@120` sends it): the job
    ends its epoch, saves last.ckpt and is requeued; the requeued job resumes it, continues the
    same W&B run, and ends where an uninterrupted run ends."""
    epochs = ["trainer.max_epochs=12", "logger=wandb", "data.fold=1"]
    tiny = [o for o in tiny_overrides if not o.startswith(("trainer.max_epochs", "logger="))]
    sweep = tmp_path / "sweep"
    proc = _start(tmp_path, sweep_cmd(tmp_path, tiny, *epochs))
    _wait_for(sweep / "0" / "checkpoints" / "last.ckpt", proc)
    job = submitted_job(sweep)
    run_id = (sweep / "0" / "wandb_run_id.txt").read_text().strip()
    subprocess.run(["scancel", "--signal=USR2", job], check=True)
    _, err = proc.communicate(timeout=420)
    assert proc.returncode == 0, err[-3000:]
    requeued = json.loads((sweep / "0" / "results.json").read_text())
    assert requeued["status"] == "completed"
    log = (sweep / "0" / "train.log").read_text()
    assert "received SIGUSR2" in log and "resuming from" in log
    assert (sweep / "0" / "wandb_run_id.txt").read_text().strip() == run_id
    runs = sorted((sweep / "0" / "wandb").glob("offline-run-*"))
    assert len(runs) == 2 and all(r.name.endswith(run_id) for r in runs)
    restarts = subprocess.run(
        ["scontrol", "show", "job", job], capture_output=True, text=True
    ).stdout
    assert "Restarts=1" in restarts or "REQUEUED" in str(
        subprocess.run(["sacct", "-D", "-X", "-n", "-j", job], capture_output=True, text=True)
    )

    # The same job, uninterrupted, on one thread as under SLURM.
    plain = tmp_path / "plain"
    run_cli(
        "fpam_lightning.train",
        *tiny,
        *epochs,
        f"paths.data_dir={tmp_path / 'data'}",
        f"hydra.run.dir={plain}",
        env={"OMP_NUM_THREADS": "1"},
        timeout=600,
    )
    straight = json.loads((plain / "results.json").read_text())
    for key in ("test_acc", "best_epoch_test_acc", "best_epoch", "epochs", "num_train"):
        assert requeued[key] == straight[key], key
    assert requeued["test_loss"] == pytest.approx(straight["test_loss"], rel=1e-5)


def test_ddp_job_with_two_tasks_counts_each_held_out_clip_once(tmp_path):
    """One job, 2 tasks started by srun, gloo: 9 held-out clips, which a plain DistributedSampler
    would pad to 10 with a repeated clip."""
    run_cli(
        "fpam_lightning.train",
        *sweep_cmd(
            tmp_path,
            odd_overrides(tmp_path / "data"),
            "trainer=ddp_cpu",
            "trainer.devices=2",
            "hydra.launcher.tasks_per_node=2",
        ),
        timeout=600,
    )
    sweep = tmp_path / "sweep"
    done = results(sweep)[0]
    assert done["status"] == "completed" and done["num_test"] == 9
    with open(sweep / "0" / "predictions.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 9 and len({r["file"] for r in rows}) == 9
    hits = sum(r["target"] == r["predicted"] for r in rows)
    assert hits / 9 == pytest.approx(done["test_acc"], abs=1e-6)
    job = submitted_job(sweep)
    assert list(accounted(job, 1).values()) == [("COMPLETED", "0:0")]
    steps = subprocess.run(
        ["sacct", "-n", "-P", "-j", job, "--format=JobID,NTasks"], capture_output=True, text=True
    ).stdout
    assert any(line.endswith("|2") for line in steps.splitlines()), steps  # the srun step


def sacct_all() -> str:
    return subprocess.run(["sacct", "-X", "-n", "-a"], capture_output=True, text=True).stdout


@pytest.mark.parametrize(
    ("launcher", "setting", "line"),
    [
        (
            "slurm",
            None,
            "SLURM partition debug has no GPUs (sinfo) but hydra.launcher.gpus_per_node=1",
        ),
        (
            "slurm",
            "hydra.launcher.gpus_per_node=null",
            "hydra/launcher asks each node for 8 CPU(s) (1 task(s) x cpus_per_task=8), 32 GB and 0 "
            "GPU(s), but the largest node of SLURM partition debug has 2 CPU(s)",
        ),
        (
            "slurm_cpu",
            "hydra.launcher.partition=gpu",
            "this cluster has no SLURM partition gpu (scontrol show partition: debug, short)",
        ),
        (
            "slurm_cpu",
            "hydra.launcher.partition=short",  # MaxTime=20 (.ci/slurm_cluster.sh); slurm_cpu: 30
            "hydra.launcher.timeout_min=30 is above SLURM partition short's MaxTime (00:20:00): "
            "set timeout_min=20 or less",
        ),
        (
            "slurm_cpu",
            "hydra.launcher.timeout_min=1",  # once: requeued before training, then signal 12
            "hydra.launcher.timeout_min=1 leaves 0 s before SLURM's warning signal",
        ),
        (
            "slurm_cpu",
            "+hydra.launcher.additional_parameters.mincpus=64",  # unchecked: sbatch refuses it
            "sbatch refused the sweep's jobs (sbatch: error: Batch job submission failed: "
            "Requested node configuration is not available)",
        ),
    ],
)
def test_a_request_that_can_never_run_is_refused_in_one_line_before_submitting(
    tmp_path, tiny_overrides, launcher, setting, line
):
    before = sacct_all()
    setting = [setting] if setting else []
    args = sweep_cmd(tmp_path, tiny_overrides, "data.fold=1,2", *setting, launcher=launcher)
    proc = run_cli("fpam_lightning.train", *args, check=False, timeout=120)
    assert proc.returncode == 2, proc.stderr[-3000:]
    errors = [x for x in proc.stderr.splitlines() if x.strip()]
    assert len(errors) == 1 and errors[0].startswith(f"error: {line}"), proc.stderr
    assert sacct_all() == before  # nothing was submitted
    assert not list(tmp_path.glob("*/.submitit/[0-9]*"))


def test_a_job_that_pends_for_a_reason_that_never_clears_ends_the_sweep_in_one_line(
    tmp_path, tiny_overrides
):
    """Passed to sbatch unchecked, a 30-minute limit on the 20-minute partition pends forever
    (Reason=PartitionTimeLimit): the sweep names it, cancels its jobs and ends."""
    args = sweep_cmd(
        tmp_path,
        tiny_overrides,
        "data.fold=1,2",
        "hydra.launcher.partition=short",
        "hydra.launcher.timeout_min=10",
        "+hydra.launcher.additional_parameters.time=30",
    )
    proc = run_cli("fpam_lightning.train", *args, check=False, timeout=180)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr[-3000:]
    job = submitted_job(tmp_path / "sweep")
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith(f"error: SLURM job {job}_") and "Reason=PartitionTimeLimit" in last
    assert "change hydra.launcher.timeout_min; the sweep's jobs were cancelled" in last
    assert last.endswith(f"hydra.sweep.dir={tmp_path}/sweep")
    assert {s for s, _ in accounted(job, 1).values()} == {"CANCELLED"}


def test_a_rerun_at_once_after_the_launcher_was_killed_waits_for_its_orphan_and_keeps_results(
    tmp_path, tiny_overrides
):
    """SIGKILL to the launcher mid-sweep: its jobs run on. The same command, run again at once,
    submits only the unfinished job, whose new SLURM job waits while the orphan still runs in
    its folder, then finds it completed. Before: both wrote there, and a finished result was
    overwritten with 'failed'."""
    tiny = [o for o in tiny_overrides if not o.startswith("trainer.max_epochs")]
    args = sweep_cmd(tmp_path, tiny, "trainer.max_epochs=1,20")
    sweep = tmp_path / "sweep"
    proc = _start(tmp_path, args)
    _wait_for(sweep / "0" / "results.json", proc)
    _wait_for(sweep / "1" / "checkpoints" / "last.ckpt", proc)
    first = submitted_job(sweep)
    proc.kill()
    proc.wait()
    done_before = (sweep / "0" / "results.json").read_bytes()
    runs_before = set((sweep / ".submitit").glob("[0-9]*"))

    again = run_cli("fpam_lightning.train", *args, timeout=600)
    assert "completed before with this config: not submitted again" in again.stdout
    assert (sweep / "0" / "results.json").read_bytes() == done_before  # not run, not touched
    (second,) = set((sweep / ".submitit").glob("[0-9]*")) - runs_before  # one job, no array
    waited = "".join(p.read_text() for p in second.glob("*_log.err"))
    assert "still running elsewhere" in waited, waited[-2000:]
    assert "already completed with this config: skipped" in (sweep / "1" / "train.log").read_text()
    assert json.loads((sweep / "1" / "results.json").read_text())["status"] == "completed"
    assert accounted(first, 2)[f"{first}_1"] == ("COMPLETED", "0:0")
    assert list(accounted(second.name, 1).values()) == [("COMPLETED", "0:0")]
    summary = json.loads((sweep / "cv_summary.json").read_text())
    assert summary["complete"] and not summary["failed"]


def test_sighup_leaves_the_jobs_running_and_prints_the_command_that_collects_them(
    tmp_path, tiny_overrides
):
    """A lost login shell (SIGHUP; SIGTERM alike) does not cancel hours of jobs: the launcher
    says they keep running and how to collect them, and that command does."""
    tiny = [o for o in tiny_overrides if not o.startswith("trainer.max_epochs")]
    sweep = tmp_path / "sweep"
    proc = _start(tmp_path, sweep_cmd(tmp_path, tiny, "data.fold=1", "trainer.max_epochs=3"))
    _wait_for(sweep / "0" / "checkpoints" / "last.ckpt", proc)
    job = submitted_job(sweep)
    proc.send_signal(signal.SIGHUP)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 128 + signal.SIGHUP, err[-3000:]
    last = err.strip().splitlines()[-1]
    assert last.startswith(
        f"error: the launcher got SIGHUP: its 1 job(s) keep running (squeue -j {job})"
    )
    command = shlex.split(last.split("re-run: ", 1)[1])
    assert command[-1] == f"hydra.sweep.dir={sweep}"
    squeue = subprocess.run(["squeue", "-h", "-j", job], capture_output=True, text=True).stdout
    assert squeue.strip(), "the job was cancelled"
    subprocess.run(command, cwd=REPO, check=True, capture_output=True, timeout=600)
    assert json.loads((sweep / "0" / "results.json").read_text())["status"] == "completed"
    assert json.loads((sweep / "cv_summary.json").read_text())["complete"]
