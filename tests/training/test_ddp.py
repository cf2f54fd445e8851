"""DDP (gloo, 2 CPU processes) launched from the Hydra entry point, inside a multirun.

The held-out fold has 9 clips, so a plain DistributedSampler would pad it to 10 with a repeated
clip; the test accuracy must equal a single-process evaluation of the same weights on all 9.
"""

from __future__ import annotations

import csv
import json

import pytest
from helpers import compose_train, odd_overrides, run_cli
from lightning.pytorch import Trainer

from fpam_lightning.training.build import build_datamodule, build_module, module_hparams


def test_ddp_cpu_multirun_job_reduces_over_both_ranks(tmp_path):
    logs, sweep = tmp_path / "logs", tmp_path / "sweep"
    ovr = odd_overrides(tmp_path / "data")
    proc = run_cli(
        "fpam_lightning.train",
        "-m",
        *ovr,
        "trainer=ddp_cpu",
        "trainer.devices=2",
        f"paths.log_dir={logs}",
        f"hydra.sweep.dir={sweep}",
        timeout=600,
    )
    # One job folder; the child rank wrote into it, started no sweep and made no run folder.
    assert sorted(p.name for p in sweep.iterdir() if not p.name.startswith(".")) == [
        "0",
        "cv_summary.json",
        "cv_summary.md",
        "cv_summary.png",
        "multirun.yaml",
        "pooled",
    ]
    assert not logs.exists()
    job = sweep / "0"
    assert (job / "train_ddp_process_1.log").exists()
    assert "Launching 1 jobs" in proc.stdout and proc.stdout.count("#0 :") == 1
    res = json.loads((job / "results.json").read_text())
    assert res["status"] == "completed" and res["num_test"] == 9

    # predictions.csv gathers both ranks' shards: every held-out clip once, scored as test/acc.
    with open(job / "predictions.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 9 and len({r["file"] for r in rows}) == 9
    assert {int(r["fold"]) for r in rows} == {1}
    hits = sum(r["target"] == r["predicted"] for r in rows)
    assert hits / 9 == pytest.approx(res["test_acc"], abs=1e-6)

    # The same last-epoch weights, evaluated by one process over the whole held-out fold.
    cfg = compose_train([*ovr, "trainer=cpu"], tmp_path / "eval")
    dm = build_datamodule(cfg.data)
    dm.prepare_data()
    trainer = Trainer(
        accelerator="cpu",
        devices=1,
        logger=False,
        enable_progress_bar=False,
        default_root_dir=str(tmp_path / "eval"),
    )
    single = trainer.test(
        build_module(module_hparams(cfg), dm),
        datamodule=dm,
        ckpt_path=res["ckpt_path"],
        verbose=False,
    )[0]
    assert res["test_acc"] == pytest.approx(single["test/acc"], abs=1e-6)
    assert res["test_loss"] == pytest.approx(single["test/loss"], rel=1e-4)
    summary = json.loads((sweep / "cv_summary.json").read_text())
    assert summary["rows"][0]["folds"]["1"] == res["test_acc"]


@pytest.mark.slow
def test_ddp_cpu_second_job_of_a_multirun_does_not_hang(tmp_path):
    """Each job needs a fresh process group: the second must not wait on the first's ranks."""
    sweep = tmp_path / "sweep"
    run_cli(
        "fpam_lightning.train",
        "-m",
        *odd_overrides(tmp_path / "data"),
        "trainer=ddp_cpu",
        "trainer.devices=2",
        "data.fold=1,2",
        f"paths.log_dir={tmp_path / 'logs'}",
        f"hydra.sweep.dir={sweep}",
        timeout=900,
    )
    for job, fold in (("0", 1), ("1", 2)):
        res = json.loads((sweep / job / "results.json").read_text())
        assert res["status"] == "completed" and res["fold"] == fold
        assert (sweep / job / "train_ddp_process_1.log").exists()
    assert json.loads((sweep / "cv_summary.json").read_text())["complete"]
