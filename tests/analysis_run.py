"""One tiny trained run shared by the analysis tests (evaluate, predict, figures, export).

The first test module that asks for it trains (with the real CLI) for 2 epochs on the tiny
synthetic set, with the CSV logger and the figure callbacks; later modules of the same pytest
session reuse that run folder.
"""

from __future__ import annotations

import json
from pathlib import Path

from helpers import run_cli

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
