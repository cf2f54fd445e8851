"""The train entry point end to end: in-process via Hydra's compose API and as a subprocess."""

from __future__ import annotations

import csv
import json
import socket
from pathlib import Path

import pytest
from helpers import compose_train, run_cli
from hydra.core.hydra_config import HydraConfig
from wandb_records import summarize_run

from fpam_lightning.training.run import train
from fpam_lightning.utils.errors import DataError


def test_train_writes_results_and_checkpoint(tiny_overrides, tmp_path):
    cfg = compose_train([*tiny_overrides, "logger=csv", "trainer.max_epochs=2"], tmp_path)
    results = train(cfg)
    on_disk = json.loads((tmp_path / "results.json").read_text())
    assert on_disk == json.loads(json.dumps(results))
    for key in ("test_acc", "test_loss", "fold", "dataset", "experiment", "seed", "ckpt_path"):
        assert key in on_disk
    assert on_disk["dataset"] == "synthetic_esc50" and on_disk["fold"] == 1
    assert on_disk["epochs"] == 2 and on_disk["status"] == "completed"
    assert 0.0 <= on_disk["test_acc"] <= 1.0
    assert Path(on_disk["ckpt_path"]).is_file()
    # How it was scored: the centre crop of the raw weights; no inner split, no val_acc.
    assert on_disk["scoring"] == "centre crop" and on_disk["ema_decay"] is None
    assert on_disk["val_mode"] == "test_fold" and on_disk["val_acc"] is None
    # Which code, packages, device and data made it.
    prov = on_disk["provenance"]
    assert set(prov) == {"commit", "dirty", "packages", "device", "data"}
    assert prov["device"] == "cpu" and prov["packages"]["lightning"]
    assert prov["data"]["clips"] == on_disk["num_train"] + on_disk["num_test"]
    # The CSV logger wrote per-epoch validation accuracy and the final test accuracy.
    with open(tmp_path / "csv" / "metrics.csv") as f:
        rows = list(csv.DictReader(f))
    assert sum(1 for r in rows if r.get("val/acc")) == 2
    test_rows = [r for r in rows if r.get("test/acc")]
    assert float(test_rows[-1]["test/acc"]) == pytest.approx(on_disk["test_acc"], abs=1e-6)


def test_experiment_ablation_mixup_composes_and_trains(tiny_overrides, tmp_path):
    cfg = compose_train(["+experiment=ablation_mixup", *tiny_overrides], tmp_path)
    assert cfg.experiment == "ablation_mixup" and cfg.mixup.enabled and cfg.attention.name == "fpam"
    assert "data.fold" in HydraConfig.get().sweeper.params
    results = train(cfg)
    assert results["mixup"] is True and results["experiment"] == "ablation_mixup"


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_unreachable_download_names_folder_url_and_override(tmp_path):
    url = f"http://127.0.0.1:{_closed_port()}/ESC-50-master.zip"
    cfg = compose_train(
        [
            f"data.root={tmp_path}/ESC-50-master",
            "data.download=true",
            f"data.url={url}",
            "logger=none",
            "trainer=cpu",
        ],
        tmp_path / "run",
    )
    with pytest.raises(DataError) as err:
        train(cfg)
    msg = str(err.value)
    assert str(tmp_path / "ESC-50-master") in msg and url in msg and "data.root=" in msg


def test_cli_missing_data_fails_fast_with_one_clear_error(tmp_path):
    proc = run_cli(
        "fpam_lightning.train",
        "data.root=/nonexistent",
        "data.download=false",
        f"hydra.run.dir={tmp_path}",
        check=False,
    )
    assert proc.returncode != 0
    assert "error:" in proc.stderr and "/nonexistent" in proc.stderr
    assert "data.root=" in proc.stderr and "Traceback" not in proc.stderr


def test_cli_synthetic_default_run_learns_and_logs_to_wandb_offline(tmp_path):
    """The README's quick start as a user types it: +experiment=quickstart, W&B offline."""
    run_dir = tmp_path / "run"
    run_cli(
        "fpam_lightning.train",
        "+experiment=quickstart",
        f"paths.data_dir={tmp_path / 'data'}",
        f"hydra.run.dir={run_dir}",
        "trainer.enable_progress_bar=false",
    )
    results = json.loads((run_dir / "results.json").read_text())
    assert results["test_acc"] > 0.5  # 10 classes: chance is 0.1
    runs = list((run_dir / "wandb").glob("offline-run-*"))
    assert len(runs) == 1
    run = summarize_run(runs[0])
    assert run["exit_code"] == 0 and run["run_id"] == results["wandb_run_id"]
    assert run["summary"]["test/acc"] == pytest.approx(results["test_acc"], abs=1e-6)
    assert {"train/loss", "val/acc", "test/acc"} <= run["history_keys"]
    assert run["config"]["data"]["fold"] == 1
    assert run["config"]["backbone"]["name"] == "resnet18"


def test_cli_bad_recipe_settings_are_one_line(tmp_path):
    proc = run_cli(
        "fpam_lightning.train",
        "augment.gain_db=-3",
        "augment.time_shift=2",
        "augment.background_snr_db=[20,5]",
        "ema.decay=1.5",
        "eval.tta_crops=0",
        f"hydra.run.dir={tmp_path / 'run'}",
        "logger=none",
        check=False,
    )
    assert proc.returncode == 2, proc.stderr[-2000:]
    (line,) = [x for x in proc.stderr.splitlines() if x.startswith("error:")]
    for name in ("augment.gain_db=-3", "augment.time_shift=2", "augment.background_snr_db=[20, 5]"):
        assert name in line
    assert "ema.decay=1.5 must be between 0 and 1" in line and "eval.tta_crops=0" in line
