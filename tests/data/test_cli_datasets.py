"""`python -m fpam_lightning.train data=esc10|us8k data.root=DIR` as a user runs it."""

from __future__ import annotations

import json

import pytest
from helpers import run_cli

from fpam_lightning.data.synthetic import synthesize_us8k

from .conftest import make_esc50, read_csv, write_csv

TINY = [
    "trainer.max_epochs=1",
    "backbone=resnet18",
    "attention.channels=32",
    "trainer=cpu",
    "logger=none",
    "data.num_workers=0",
    "data.batch_size=8",
    "data.val=none",
    "++trainer.limit_train_batches=2",
    "++trainer.limit_test_batches=2",
    "trainer.enable_progress_bar=false",
]


def train(tmp_path, *overrides: str, check: bool = True):
    run = tmp_path / "run"
    proc = run_cli(
        "fpam_lightning.train",
        *TINY,
        *overrides,
        f"hydra.run.dir={run}",
        f"data.cache_dir={tmp_path / 'cache'}",
        check=check,
    )
    return proc, run


@pytest.mark.parametrize("real", [True, False], ids=["real", "built"])
def test_esc10_trains_on_the_real_recordings_and_a_built_copy(tmp_path, request, real):
    """The real ESC-10 (400 clips, built from the shared ESC-50 release; decoded once) and a
    generated copy of its layout."""
    root = (
        request.getfixturevalue("esc10_root") if real else make_esc50(tmp_path / "esc", seconds=2.0)
    )
    _, run = train(
        tmp_path,
        "data=esc10",
        f"data.root={root}",
        "data.fold=2",
        "data.clip_seconds=1.0",
        "data.cache_seconds=2.0",
    )
    res = json.loads((run / "results.json").read_text())
    assert res["status"] == "completed" and res["dataset"] == "esc10" and res["fold"] == 2
    assert res["num_train"] == (320 if real else 40) and res["num_test"] == (80 if real else 10)
    assert res["skipped_files"] == 0 and res["val_mode"] == "none"
    cache = list((tmp_path / "cache").glob("esc10_16000hz_32000_*.npy"))
    assert len(cache) == 1  # cached at cache_seconds (2 s); the network crops 1 s from it


def test_esc10_csv_saved_by_a_spreadsheet_program_trains(tmp_path):
    """meta/esc50.csv re-saved as "CSV UTF-8" (byte-order mark, CRLF line ends) trains."""
    root = make_esc50(tmp_path / "esc")
    csv_path = root / "meta" / "esc50.csv"
    header, rows = read_csv(csv_path)
    write_csv(csv_path, header, rows, bom=True)
    assert csv_path.read_bytes().startswith(b"\xef\xbb\xbffilename,fold,")
    _, run = train(tmp_path, "data=esc10", f"data.root={root}", "data.clip_seconds=0.5")
    res = json.loads((run / "results.json").read_text())
    assert res["status"] == "completed" and res["dataset"] == "esc10"
    assert res["num_train"] == 40 and res["num_test"] == 10 and res["skipped_files"] == 0


def us8k_with_an_empty_file(tmp_path):
    root = synthesize_us8k(tmp_path / "us", clips_per_class_per_fold=1, seconds=0.5)
    _, rows = read_csv(root / "metadata" / "UrbanSound8K.csv")
    (root / "audio" / f"fold{rows[0][5]}" / rows[0][0]).write_bytes(b"")
    return root, rows[0][0]


def test_us8k_trains_and_skipped_files_are_counted(tmp_path):
    root, _ = us8k_with_an_empty_file(tmp_path)
    _, run = train(
        tmp_path,
        "data=us8k",
        f"data.root={root}",
        "data.on_bad_file=skip",
        "features=tutorial",
        "data.clip_seconds=0.5",
        "data.fold=10",
    )
    res = json.loads((run / "results.json").read_text())
    assert res["status"] == "completed" and res["dataset"] == "us8k" and res["fold"] == 10
    assert res["skipped_files"] == 1 and res["num_train"] == 89 and res["num_test"] == 10
    assert list((tmp_path / "cache").glob("us8k_22050hz_11025_*.npy"))  # follows features


@pytest.mark.slow
def test_us8k_default_settings_full_epoch(tmp_path):
    """The stock us8k config (4 s at the features' rate, validation on the test fold)."""
    root = synthesize_us8k(tmp_path / "us", clips_per_class_per_fold=1, seconds=4.0)
    _, run = train(
        tmp_path,
        "data=us8k",
        f"data.root={root}",
        "data.val=test_fold",
        "++trainer.limit_train_batches=1.0",
        "++trainer.limit_test_batches=1.0",
    )
    res = json.loads((run / "results.json").read_text())
    assert res["num_train"] == 90 and res["num_test"] == 10 and res["val_mode"] == "test_fold"


@pytest.mark.slow
def test_bad_file_stops_the_cli_with_one_line_before_training(tmp_path):
    root, name = us8k_with_an_empty_file(tmp_path)
    proc, run = train(tmp_path, "data=us8k", f"data.root={root}", check=False)
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert "error: 1 bad audio file(s)" in proc.stderr
    assert f"fold1/{name} (UrbanSound8K.csv row 2): empty file" in proc.stderr
    assert "Traceback" not in proc.stderr and not (run / "results.json").exists()
