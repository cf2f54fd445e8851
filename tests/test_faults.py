"""Faults end to end: preemption, NaN losses, pickle payloads, half-written files, no network,
and bad input (NaN audio, empty folds, unwritable folders, checkpoints of another model)."""

from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
from helpers import REPO, compose_train, error_lines, run_cli, unwritable

from fpam_lightning.training.checkpoint import (
    SafeCheckpointIO,
    UnsafeCheckpointError,
    safe_torch_load,
)
from fpam_lightning.training.numerics import NumericalError
from fpam_lightning.training.run import train
from fpam_lightning.utils.cli import PREEMPTED_EXIT_CODE
from fpam_lightning.utils.errors import DataError, FpamError

DETERMINISTIC = ["trainer.deterministic=true", "trainer.max_epochs=3"]


def _results(run_dir: Path) -> dict:
    return json.loads((run_dir / "results.json").read_text())


def _state(ckpt: Path) -> dict[str, torch.Tensor]:
    return torch.load(ckpt, map_location="cpu", weights_only=True)["state_dict"]


def _signal_after_first_checkpoint(overrides: list[str], run_dir: Path, sig: int):
    """Start training as a user would, send `sig` once epoch 0's last.ckpt is on disk."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "fpam_lightning.train", *overrides, f"hydra.run.dir={run_dir}"],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    ckpt = run_dir / "checkpoints" / "last.ckpt"
    deadline = time.monotonic() + 300
    while not ckpt.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    proc.send_signal(sig)
    out, _ = proc.communicate(timeout=300)
    return proc.returncode, out


class Payload:
    """Unpickling this creates `marker`: a stand-in for arbitrary code in a checkpoint file."""

    def __init__(self, marker: Path):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def _poisoned_checkpoint(path: Path, marker: Path, template: dict | None = None) -> Path:
    ckpt = dict(template or {"state_dict": {"w": torch.zeros(2)}})
    ckpt["payload"] = Payload(marker)
    torch.save(ckpt, path)
    return path


# --- preemption -----------------------------------------------------------------------------------
def test_sigterm_saves_epoch_checkpoint_and_resume_matches_uninterrupted(tiny_overrides, tmp_path):
    overrides = [*tiny_overrides, *DETERMINISTIC]
    run_dir = tmp_path / "interrupted"
    rc, out = _signal_after_first_checkpoint(overrides, run_dir, signal.SIGTERM)
    assert rc == PREEMPTED_EXIT_CODE, out[-3000:]
    assert "Traceback" not in out and "preempted:" in out
    stopped = _results(run_dir)
    assert stopped["status"] == "preempted" and 1 <= stopped["epochs"] < 3
    assert stopped["provenance"]["device"] == "cpu"
    assert (
        torch.load(run_dir / "checkpoints" / "last.ckpt", weights_only=True)["epoch"]
        == stopped["epochs"] - 1
    )
    assert not list((run_dir / "checkpoints").glob(".*tmp"))  # no staging files left behind

    # The resume and the reference run in-process (the same train() as the CLI's) to save time.
    resumed = train(compose_train([*overrides, "ckpt_path=last"], run_dir))
    assert _results(run_dir) == json.loads(json.dumps(resumed))
    assert resumed["status"] == "completed" and resumed["epochs"] == 3

    reference = train(compose_train(overrides, tmp_path / "uninterrupted"))
    assert resumed["test_acc"] == reference["test_acc"]
    assert resumed["test_loss"] == reference["test_loss"]
    a, b = _state(run_dir / "checkpoints" / "last.ckpt"), _state(Path(reference["ckpt_path"]))
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


@pytest.mark.slow
def test_sigusr1_preemption_resumes_the_same_wandb_run(tiny_overrides, tmp_path):
    overrides = [*tiny_overrides, *DETERMINISTIC, "logger=wandb"]
    rc, out = _signal_after_first_checkpoint(overrides, tmp_path, signal.SIGUSR1)
    assert rc == PREEMPTED_EXIT_CODE, out[-3000:]
    assert _results(tmp_path)["status"] == "preempted"
    run_id = (tmp_path / "wandb_run_id.txt").read_text().strip()
    run_cli("fpam_lightning.train", *overrides, f"hydra.run.dir={tmp_path}", "ckpt_path=last")
    resumed = _results(tmp_path)
    assert resumed["status"] == "completed" and resumed["wandb_run_id"] == run_id
    runs = sorted((tmp_path / "wandb").glob("offline-run-*"))
    assert len(runs) == 2 and all(r.name.endswith(run_id) for r in runs)


# --- numerical faults -----------------------------------------------------------------------------
def test_nan_loss_stops_at_its_step_and_keeps_the_checkpoint_before_it(tiny_overrides, tmp_path):
    # 32 training clips / batch 8 = 4 steps an epoch: step 5 is epoch 1, batch 1.
    cfg = compose_train([*tiny_overrides, "trainer.max_epochs=3", "debug.nan_at_step=5"], tmp_path)
    with pytest.raises(NumericalError) as err:
        train(cfg)
    msg = str(err.value)
    # The injected NaN is in the batch's waveforms: the message names those clips, not the lr.
    assert "NaN at step 5 (epoch 1, batch 1): the input waveforms of 8 clip(s): " in msg
    assert "(esc50.csv row " in msg and "and 5 more hold NaN/Inf samples" in msg
    assert "optim.lr" not in msg
    ckpt = tmp_path / "checkpoints" / "last.ckpt"
    assert str(ckpt) in msg
    saved = torch.load(ckpt, weights_only=True)
    assert saved["global_step"] == 4 and saved["epoch"] == 0
    assert all(torch.isfinite(t).all() for t in saved["state_dict"].values())
    assert not (tmp_path / "results.json").exists()


# --- untrusted files ------------------------------------------------------------------------------
def test_payload_really_runs_without_weights_only(tmp_path):
    """The fixture is a real exploit: a plain pickle load creates the marker."""
    marker = tmp_path / "pwned"
    path = _poisoned_checkpoint(tmp_path / "evil.ckpt", marker)
    torch.load(path, weights_only=False)
    assert marker.exists()


def test_resume_from_poisoned_checkpoint_refuses_and_runs_nothing(tiny_overrides, tmp_path):
    marker = tmp_path / "pwned"
    good = train(compose_train(tiny_overrides, tmp_path / "good"))
    template = torch.load(good["ckpt_path"], weights_only=True)  # our own checkpoints load
    evil = _poisoned_checkpoint(tmp_path / "evil.ckpt", marker, template)
    cfg = compose_train(
        [*tiny_overrides, "trainer.max_epochs=2", f"ckpt_path={evil}"], tmp_path / "resume"
    )
    with pytest.raises(UnsafeCheckpointError, match="refusing to load"):
        train(cfg)
    assert not marker.exists()
    with pytest.raises(UnsafeCheckpointError):
        SafeCheckpointIO().load_checkpoint(evil)
    assert not marker.exists()


def test_other_load_paths_refuse_the_payload(tmp_path):
    from fpam_lightning.models.backbones import TimmBackbone
    from fpam_lightning.models.weights import load_backbone_checkpoint
    from fpam_lightning.training.checkpoint import read_checkpoint

    marker = tmp_path / "pwned"
    backbone = TimmBackbone("resnet18", [5], paper_stem=True)
    evil = _poisoned_checkpoint(
        tmp_path / "evil.pt", marker, {"state_dict": dict(backbone.state_dict())}
    )
    for load in (
        lambda: load_backbone_checkpoint(backbone, evil),  # backbone.checkpoint
        lambda: read_checkpoint(evil),  # evaluate / predict
        lambda: safe_torch_load(evil),
    ):
        with pytest.raises(FpamError):
            load()
    assert not marker.exists()


def test_pretrained_weights_offline_fail_fast_with_a_clear_message(tmp_path):
    from fpam_lightning.models.backbones import TimmBackbone
    from fpam_lightning.utils.errors import ConfigError

    assert os.environ.get("HF_HUB_OFFLINE") == "1"  # set by conftest: no network in tests
    with pytest.raises(ConfigError, match="backbone.pretrained=true.*backbone.checkpoint=PATH"):
        TimmBackbone("resnet18", [5], pretrained=True)


# --- atomic outputs -------------------------------------------------------------------------------
def test_failed_checkpoint_save_leaves_the_old_file(tmp_path):
    path = tmp_path / "checkpoints" / "last.ckpt"
    io = SafeCheckpointIO()
    io.save_checkpoint({"state_dict": {"w": torch.ones(3)}}, path)
    before = path.read_bytes()
    with pytest.raises(Exception):  # noqa: B017 - pickling a lambda fails midway through the save
        io.save_checkpoint({"state_dict": {"w": torch.zeros(3)}, "bad": lambda: 0}, path)
    assert path.read_bytes() == before
    assert [p.name for p in path.parent.iterdir()] == ["last.ckpt"]
    assert torch.equal(io.load_checkpoint(path)["state_dict"]["w"], torch.ones(3))


# --- offline --------------------------------------------------------------------------------------
def test_download_without_network_fails_fast_with_a_clear_message(tmp_path):
    from fpam_lightning.data.download import download

    url = "https://esc50.invalid/ESC-50-master.zip"  # .invalid never resolves (RFC 2606)
    with pytest.raises(DataError, match="could not download"):
        download(url, tmp_path / "x.zip", timeout=5)
    assert not (tmp_path / "x.zip").exists()


# --- a sweep with a crashed job -------------------------------------------------------------------
@pytest.mark.slow
def test_sweep_summary_lists_the_failed_job_and_averages_the_rest(tiny_overrides, tmp_path):
    from fpam_lightning.reporting.cv_report import summarize

    sweep = tmp_path / "sweep"
    proc = run_cli(
        "fpam_lightning.train",
        "-m",
        *tiny_overrides,
        "data.fold=1,9",
        f"hydra.sweep.dir={sweep}",
        check=False,
    )
    assert proc.returncode == 1  # the other job ran, and the sweep says that one failed
    assert proc.stderr.strip().splitlines()[-1].startswith("error: 1 of 2 job(s) of the sweep")
    summary = summarize(sweep)
    (row,) = summary["rows"]
    done = _results(sweep / "0")
    assert done["status"] == "completed" and _results(sweep / "1")["status"] == "failed"
    assert row["n_completed"] == 1 and row["mean"] == done["test_acc"]
    (failed,) = summary["failed"]
    assert failed["fold"] == 9 and "data.fold=9 is out of range" in failed["error"]
    assert "finished folds only" in summary["averaged_over"]
    assert (sweep / "cv_summary.json").is_file() and (sweep / "cv_summary.md").is_file()


# --- bad input: NaN audio, empty folds, unwritable folders, other architectures -------------------
def tiny_copy(tmp_path: Path) -> Path:
    """A private copy of the tiny synthetic set (40 clips, 8 in each fold), to damage."""
    from fpam_lightning.data.synthetic import synthesize_esc50

    return synthesize_esc50(
        tmp_path / "esc", num_classes=4, clips_per_class_per_fold=2, seconds=0.5, sample_rate=16000
    )


def train_cli(overrides: list[str], run_dir: Path, *extra: str):
    proc = run_cli(
        "fpam_lightning.train", *overrides, *extra, f"hydra.run.dir={run_dir}", check=False
    )
    assert "Traceback" not in proc.stdout + proc.stderr, proc.stderr[-3000:]
    return proc


def test_nan_wav_in_the_held_out_fold_stops_the_run_naming_it(tiny_overrides, tmp_path):
    """Before: exit 0, status completed, test_loss NaN, the clip counted in the accuracy."""
    root = tiny_copy(tmp_path)
    wav = root / "audio" / "1-100001-A-0.wav"  # the CSV's first row: fold 1, the held-out fold
    data, sr = sf.read(wav, dtype="float32")
    data[320:323] = np.nan
    sf.write(wav, data, sr, subtype="FLOAT")
    proc = train_cli([*tiny_overrides, f"data.root={root}"], tmp_path / "run")
    assert proc.returncode == 2
    assert error_lines(proc.stderr) == [
        f"error: 1 bad audio file(s) in {root / 'audio'}: 1-100001-A-0.wav (esc50.csv row 2): "
        "non-finite samples: 3 NaN value(s), the first at 0.020 s (data.on_bad_file=skip drops "
        "and counts them)"
    ]
    assert not (tmp_path / "run" / "results.json").exists()
    assert not (tmp_path / "run" / "checkpoints").exists()  # stopped before any training
    # With skip, the clip is left out of training and scoring alike; the numbers are finite.
    skip = [*tiny_overrides, f"data.root={root}", "data.on_bad_file=skip"]
    res = train(compose_train(skip, tmp_path / "skip"))
    assert res["status"] == "completed" and res["skipped_files"] == 1 and res["num_test"] == 7
    assert res["skipped"] == ["1-100001-A-0.wav (esc50.csv row 2)"]
    assert np.isfinite(res["test_loss"]) and np.isfinite(res["test_acc"])


def test_skip_with_every_held_out_file_bad_refuses_before_training(tiny_overrides, tmp_path):
    """Before: trained the whole run, then IndexError in trainer.test, no results.json."""
    root = tiny_copy(tmp_path)
    for wav in (root / "audio").glob("1-*.wav"):
        wav.write_bytes(b"")
    proc = train_cli(
        [*tiny_overrides, f"data.root={root}", "data.on_bad_file=skip", "trainer.max_epochs=50"],
        tmp_path / "run",
    )
    assert proc.returncode == 2
    (line,) = error_lines(proc.stderr)
    assert line.startswith(
        "error: held-out fold 1 of synthetic_esc50 has no usable clip: all 8 of its files are "
        "bad (1-100001-A-0.wav (esc50.csv row 2): empty file (0 bytes);"
    )
    assert "a fold with no clips cannot be scored" in line
    assert not (tmp_path / "run" / "checkpoints").exists()
    assert proc.stdout.count("skipping 8 of 40 audio files") == 1  # said once, not 4 times


def test_read_only_data_folder_names_the_cache_and_data_cache_dir(tiny_overrides, tmp_path):
    """Before: PermissionError: .../.fpam_cache, with a traceback."""
    root = tiny_copy(tmp_path)
    with unwritable(root):
        proc = train_cli([*tiny_overrides, f"data.root={root}"], tmp_path / "run")
        assert proc.returncode == 2
        assert error_lines(proc.stderr) == [
            f"error: cannot write the waveform cache in {root / '.fpam_cache'} "
            f"({proc.stderr.split('(', 1)[1].split(')', 1)[0]}): set "
            "data.cache_dir=/a/writable/folder to keep it elsewhere (a read-only or shared data "
            "set needs one)"
        ]
        moved = [*tiny_overrides, f"data.root={root}", f"data.cache_dir={tmp_path / 'cache'}"]
        assert train(compose_train(moved, tmp_path / "moved"))["status"] == "completed"


def test_unwritable_run_folder_is_one_line(tiny_overrides, tmp_path):
    """Before: a Hydra traceback (PermissionError from its log file or .hydra/ folder)."""
    with unwritable(tmp_path / "runs"):
        proc = train_cli(tiny_overrides, tmp_path / "runs")
    assert proc.returncode == 2
    (line,) = error_lines(proc.stderr)
    assert line.startswith(f"error: cannot write the run folder {tmp_path / 'runs'} (")
    assert line.endswith("choose a writable one with hydra.run.dir=/a/writable/folder "
                         "(or paths.log_dir=...)")  # fmt: skip


def test_resume_from_another_architecture_names_what_differs(tiny_overrides, tmp_path):
    """Before: Lightning's load_state_dict traceback, 40 lines of tensor names."""
    none = train(compose_train([*tiny_overrides, "attention=none"], tmp_path / "none"))
    proc = train_cli(
        [*tiny_overrides, "attention=fpam", f"ckpt_path={none['ckpt_path']}"], tmp_path / "fpam"
    )
    assert proc.returncode == 2
    (line,) = error_lines(proc.stderr)
    assert line.startswith(
        f"error: ckpt_path={none['ckpt_path']} was trained with backbone.name=resnet18, "
        "attention.name=none, model.variant=paper, features.n_mels=64, data.num_classes=4, and "
        "its weights do not fit this run's model; it differs in attention.name=none (this run: "
        "fpam);"
    )
    assert line.endswith("Resume with the checkpoint's settings, or start afresh without ckpt_path")


def test_a_sweep_with_failed_jobs_exits_1_after_its_summary(tiny_overrides, tmp_path):
    """Before: exit 0, so SLURM, CI and shell scripts saw success."""
    sweep = tmp_path / "sweep"
    proc = run_cli(
        "fpam_lightning.train",
        "-m",
        *tiny_overrides,
        "data.fold=8,9",
        f"hydra.sweep.dir={sweep}",
        check=False,
    )
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert proc.stderr.strip().splitlines()[-1] == (
        f"error: 2 of 2 job(s) of the sweep {sweep} failed (its cv_summary.md lists them); the "
        "first, job 0 (fold 8): invalid configuration: data.fold=8 is out of range for esc50: "
        "choose 1..5; to resume the sweep, re-run: "
        + shlex.join([sys.executable, "-m", "fpam_lightning.train", *proc.args[3:]])
    )
    assert (sweep / "cv_summary.md").is_file()  # written before the exit
    failed = json.loads((sweep / "0" / "results.json").read_text())
    assert failed["status"] == "failed" and len(failed["provenance"]["commit"] or "x" * 40) == 40
