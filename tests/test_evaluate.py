"""evaluate: the CLI's files, the report's agreement with predictions.csv, W&B, errors.

Pooling several folds' reports is tested with the library, in tests/reporting/test_fold_report.py.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from analysis_run import data_overrides, trained_run
from helpers import run_cli
from wandb_records import summarize_run


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory, tiny_overrides) -> Path:
    return trained_run(tmp_path_factory, tiny_overrides)


def read_rows(path: Path) -> list[dict]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_evaluate_cli_report_agrees_with_predictions(run_dir, tiny_overrides, tmp_path):
    out = tmp_path / "eval"
    ckpt = run_dir / "checkpoints" / "last.ckpt"
    run_cli(
        "fpam_lightning.evaluate",
        f"ckpt_path={ckpt}",
        *data_overrides(tiny_overrides),
        "logger=wandb",
        f"hydra.run.dir={out}",
        env={"WANDB_MODE": "offline"},
    )
    for name in (
        "results.json",
        "predictions.csv",
        "classification_report.json",
        "classification_report.txt",
        "confusion_matrix.png",
        "confusion_matrix.csv",
        "embeddings.npz",
    ):
        assert (out / name).stat().st_size > 0, name
    results = json.loads((out / "results.json").read_text())
    rows = read_rows(out / "predictions.csv")
    names = results["class_names"]
    assert len(rows) == results["num_test"] == 8 and {int(r["fold"]) for r in rows} == {1}
    # the code and data behind the scores: the same data as the training run it scores
    trained = json.loads((run_dir / "results.json").read_text())
    assert results["provenance"]["data"] == trained["provenance"]["data"]
    assert results["provenance"]["device"] == "cpu" and results["provenance"]["packages"]["timm"]
    probs = np.array([[float(r[f"prob_{n}"]) for n in names] for r in rows])
    np.testing.assert_allclose(probs.sum(1), 1.0, atol=1e-4)
    y = np.array([int(r["target"]) for r in rows])
    p = np.array([int(r["predicted"]) for r in rows])
    assert (p == probs.argmax(1)).all()
    assert all(Path(r["file"]).is_file() for r in rows)
    assert results["test_acc"] == pytest.approx((y == p).mean())
    # The per-class report, recomputed by hand from the CSV.
    report = json.loads((out / "classification_report.json").read_text())
    for c, n in enumerate(names):
        tp = int(((p == c) & (y == c)).sum())
        assert report[n]["support"] == int((y == c).sum())
        assert report[n]["recall"] == pytest.approx(tp / max(1, (y == c).sum()))
        assert report[n]["precision"] == pytest.approx(tp / max(1, (p == c).sum()))
    assert report["accuracy"] == pytest.approx(results["test_acc"])
    cm = [
        [int(v) for k, v in r.items() if k != "true_class"]
        for r in read_rows(out / "confusion_matrix.csv")
    ]
    assert np.trace(cm) == int((y == p).sum()) and np.sum(cm) == len(rows)
    # ...and the same files went to the offline W&B run.
    assert results["wandb_run_id"]
    media = list((out / "wandb").glob("offline-run-*/files/media/images/confusion_matrix*.png"))
    tables = list((out / "wandb").glob("offline-run-*/files/media/table/*.table.json"))
    assert media and len(tables) >= 2
    # ...in the training run's group, tagged with its experiment (`default`) and `evaluate`.
    (wb,) = (out / "wandb").glob("offline-run-*")
    run = summarize_run(wb)
    assert run["run_id"] == results["wandb_run_id"] and run["exit_code"] == 0
    assert run["group"] == f"default/{run_dir.name}"
    assert run["tags"][:2] == ["default", "evaluate"]
    assert run["name"] == f"evaluate-{results['dataset']}-fold1"


def test_evaluate_cli_bad_checkpoint_is_one_line(tmp_path, tiny_overrides):
    bogus = tmp_path / "bogus.ckpt"
    bogus.write_bytes(b"not a checkpoint")
    proc = run_cli(
        "fpam_lightning.evaluate",
        f"ckpt_path={bogus}",
        *data_overrides(tiny_overrides),
        "logger=none",
        f"hydra.run.dir={tmp_path / 'out'}",
        check=False,
    )
    assert proc.returncode == 2
    assert proc.stderr.startswith(f"error: ckpt_path={bogus} is not a PyTorch checkpoint")
    assert "(cannot be read: " in proc.stderr and "Traceback" not in proc.stderr


@pytest.mark.parametrize(
    "crops,line",
    [
        ("0", "error: eval.tta_crops=0 must be a positive integer (or null)"),
        ("many", "error: invalid configuration: eval.tta_crops='many' must be a positive integer"),
    ],
)
def test_evaluate_cli_bad_tta_count_is_one_line(run_dir, tiny_overrides, tmp_path, crops, line):
    """A range the schema's rule refuses, and a type Hydra refuses, each in one line (exit 2)."""
    proc = run_cli(
        "fpam_lightning.evaluate",
        f"ckpt_path={run_dir / 'checkpoints' / 'last.ckpt'}",
        *data_overrides(tiny_overrides),
        "logger=none",
        f"eval.tta_crops={crops}",
        f"hydra.run.dir={tmp_path / 'out'}",
        check=False,
    )
    assert proc.returncode == 2, proc.stderr[-2000:]
    (error,) = [x for x in proc.stderr.splitlines() if x.startswith("error:")]
    assert error.startswith(line) and "Traceback" not in proc.stderr
    assert not (tmp_path / "out" / "results.json").exists()
