"""Which W&B group an evaluation joins: the one of the training run that wrote the checkpoint.

The evaluate command end to end (files, report, the offline W&B run) is in test_evaluate.py.
"""

from __future__ import annotations

from pathlib import Path

from omegaconf import OmegaConf

from fpam_lightning.reporting.evaluation import training_run_wandb


def run_folder(path: Path, config: dict) -> Path:
    """A run folder as training leaves it: .hydra/config.yaml and checkpoints/last.ckpt."""
    (path / ".hydra").mkdir(parents=True)
    OmegaConf.save(OmegaConf.create(config), path / ".hydra" / "config.yaml")
    (path / "checkpoints").mkdir()
    ckpt = path / "checkpoints" / "last.ckpt"
    ckpt.write_bytes(b"")
    return ckpt


def test_group_of_a_single_run_a_sweep_job_and_a_set_group(tmp_path):
    single = run_folder(tmp_path / "runs" / "2026-01-01_00-00-00", {"experiment": "quick"})
    assert training_run_wandb(single) == ("quick/2026-01-01_00-00-00", "quick")
    sweep = tmp_path / "multiruns" / "t"
    job = run_folder(sweep / "3", {"experiment": "ablation", "logger": {"wandb": None}})
    (sweep / "multirun.yaml").write_text("hydra: {}\n")
    assert training_run_wandb(job) == ("ablation/t", "ablation")
    named = run_folder(
        tmp_path / "named", {"experiment": "x", "logger": {"wandb": {"group": "paper"}}}
    )
    assert training_run_wandb(named) == ("paper", "x")


def test_no_group_without_the_run_config(tmp_path):
    loose = tmp_path / "model.ckpt"
    loose.write_bytes(b"")
    assert training_run_wandb(loose) == (None, None)
    bad = run_folder(tmp_path / "bad", {"experiment": "${oops:}"})  # unresolvable
    assert training_run_wandb(bad) == (None, None)
