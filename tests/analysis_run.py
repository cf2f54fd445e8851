"""What the analysis tests share: one tiny trained run, and sweep folders written by hand.

The first test module that asks for the run trains (with the real CLI) for 2 epochs on the tiny
synthetic set, with the CSV logger and the figure callbacks; later modules of the same pytest
session reuse that run folder. `example_sweep` lays out a multirun folder as Hydra leaves it,
with failed, missing and unfinished jobs placed exactly (for the summary tests).
"""

from __future__ import annotations

import json
from pathlib import Path

from helpers import run_cli
from omegaconf import OmegaConf

EXTRA = ["trainer.max_epochs=2", "logger=csv", "callbacks=figures", "callbacks.figure_epochs=[1]"]


def trained_run(tmp_path_factory, tiny_overrides: list[str]) -> Path:
    """The run folder (results.json, checkpoints/last.ckpt, csv/, figures/)."""
    out = tmp_path_factory.getbasetemp() / "analysis_run"
    if (out / "results.json").exists():
        return out
    run_cli("fpam_lightning.train", *tiny_overrides, *EXTRA, f"hydra.run.dir={out}")
    results = json.loads((out / "results.json").read_text())
    assert results["status"] == "completed" and results["ckpt_path"]
    return out


def data_overrides(tiny_overrides: list[str]) -> list[str]:
    """The data part of the tiny overrides, for evaluate (the model comes from the checkpoint)."""
    return [o for o in tiny_overrides if o.startswith(("data", "paths"))]


# --- sweep folders --------------------------------------------------------------------------------
def make_job(sweep: Path, num: int, overrides: list[str], results: dict | None) -> Path:
    job = sweep / str(num)
    (job / ".hydra").mkdir(parents=True)
    OmegaConf.save(OmegaConf.create(overrides), job / ".hydra" / "overrides.yaml")
    if results is not None:
        (job / "results.json").write_text(json.dumps(results))
    return job


def done(fold: int, acc: float, best: float | None = None) -> dict:
    return {
        "status": "completed",
        "fold": fold,
        "test_acc": acc,
        "best_epoch_test_acc": best,
        "dataset": "synthetic_esc50",
        "backbone": "resnet18",
        "attention": "fpam",
        "variant": "paper",
        "mixup": False,
    }


def write_multirun_yaml(sweep: Path, params: dict[str, str], task: list[str]) -> None:
    OmegaConf.save(
        OmegaConf.create({"hydra": {"sweeper": {"params": params}, "overrides": {"task": task}}}),
        sweep / "multirun.yaml",
    )


def example_sweep(root: Path) -> Path:
    """A 2 x 3 grid (attention x fold) with one failed job and one killed before results."""
    sweep = root / "multiruns" / "t"
    sweep.mkdir(parents=True)
    write_multirun_yaml(
        sweep,
        {"attention": "none,fpam", "data.fold": "1,2,3,4,5"},
        ["data=synthetic", "data.fold=1,2,3"],
    )
    common = ["data=synthetic"]
    make_job(sweep, 0, [*common, "attention=none", "data.fold=1"], done(1, 0.50, 0.75))
    make_job(sweep, 1, [*common, "attention=none", "data.fold=2"], done(2, 0.25, 0.50))
    make_job(sweep, 2, [*common, "attention=none", "data.fold=3"], done(3, 1.00, 1.00))
    make_job(sweep, 3, [*common, "attention=fpam", "data.fold=1"], done(1, 0.75, 0.75))
    make_job(
        sweep,
        4,
        [*common, "attention=fpam", "data.fold=2"],
        {"status": "failed", "fold": 2, "error": "DataError: clip 7 is silent"},
    )
    make_job(sweep, 5, [*common, "attention=fpam", "data.fold=3"], None)  # killed mid-run
    return sweep
