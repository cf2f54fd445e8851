"""W&B settings: offline unless asked, one uniquely named run per job, grouped by sweep.

The end-to-end checks (a real sweep's offline runs read back: group, names, config, completion,
a crashed job finished cleanly) are in test_sweeps.py; resumed runs in test_resume.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import compose_train

from fpam_lightning.training.build import module_hparams
from fpam_lightning.training.loggers import (
    build_loggers,
    group_name,
    run_name,
    sweep_group,
    wandb_offline,
)


@pytest.mark.parametrize(
    ("env", "requested", "offline"),
    [
        (None, True, True),
        (None, False, False),
        ("online", True, False),
        ("offline", False, True),
        ("disabled", False, True),
    ],
)
def test_offline_unless_asked(monkeypatch, env, requested, offline):
    if env is None:
        monkeypatch.delenv("WANDB_MODE", raising=False)
    else:
        monkeypatch.setenv("WANDB_MODE", env)
    assert wandb_offline(requested) is offline


def test_run_names_differ_per_configuration_and_fold(tmp_path, tiny_overrides):
    def name(cfg) -> str:  # as train() names it: from the module's hyperparameters
        return run_name(str(cfg.experiment), "s", cfg.data.fold, module_hparams(cfg))

    a = name(compose_train([*tiny_overrides, "data.fold=1"], tmp_path))
    b = name(compose_train([*tiny_overrides, "data.fold=2", "mixup=on"], tmp_path))
    assert "fold1" in a and "-nomix-" in a and "fold2" in b and "-mixup-" in b


def test_group_is_the_experiment_and_run_folder_outside_a_sweep(tmp_path, tiny_overrides):
    out = tmp_path / "runs" / "2026-01-01_00-00-00"
    cfg = compose_train([*tiny_overrides, "logger=wandb"], out)
    assert sweep_group(str(cfg.experiment), out) == "default/2026-01-01_00-00-00"
    assert group_name("ablation_mixup", Path("logs/x/multiruns/t")) == "ablation_mixup/t"
    (logger,) = build_loggers(cfg.logger, out, "a-run", str(cfg.experiment))
    assert logger._wandb_init["group"] == "default/2026-01-01_00-00-00"
    assert logger._wandb_init["tags"][0] == "default"
    assert logger._wandb_init["dir"] == str(out)  # each job's run lives in its own folder
