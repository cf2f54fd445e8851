"""Fold sweeps as a user runs them: `-m` multiruns, the experiment grids, the launchers, W&B.

Every sweep here is a real `python -m fpam_lightning.train -m ...` on the tiny synthetic set;
the summary is checked against the jobs' own results.json and W&B runs are read back from their
offline transaction logs.
"""

from __future__ import annotations

import json
import statistics
from pathlib import Path

import pytest
from helpers import compose_train, run_cli
from wandb_records import summarize_run

EXPERIMENTS = [
    "paper_fpam_esc50",
    "paper_fpam_esc10",
    "paper_baseline_esc50",
    "paper_baseline_esc10",
    "ablation_mixup",
    "ablation_attention",
    "us8k_tutorial",
    "quickstart",
    "esc10_scratch_cpu",
    "esc50_scratch",
    "paper_recipe_esc50",
    "paper_recipe_esc10",
    "search_esc10",
]
# The recipes that train from scratch with the field's usual tricks (conf/experiment/*.yaml).
OUR_RECIPE = {"esc10_scratch_cpu", "esc50_scratch", "paper_recipe_esc50", "paper_recipe_esc10"}


def sweep(tmp_path: Path, overrides: list[str], *args: str) -> tuple[Path, list[dict]]:
    """Run a multirun into tmp_path/sweep; return the folder and the jobs' results, in order."""
    out = tmp_path / "sweep"
    run_cli(
        "fpam_lightning.train",
        "-m",
        *overrides,
        *args,
        f"hydra.sweep.dir={out}",
        f"paths.log_dir={tmp_path / 'logs'}",
        timeout=900,
    )
    jobs = sorted((p for p in out.iterdir() if p.name.isdigit()), key=lambda p: int(p.name))
    return out, [json.loads((j / "results.json").read_text()) for j in jobs]


def wandb_runs(folder: Path) -> list[dict]:
    return [summarize_run(d) for d in sorted(folder.glob("wandb/offline-run-*"))]


def test_three_fold_multirun_summary_and_wandb_group(tmp_path, tiny_overrides):
    out, results = sweep(tmp_path, tiny_overrides, "data.fold=1,2,3", "logger=wandb")
    assert [r["fold"] for r in results] == [1, 2, 3]
    assert all(r["status"] == "completed" for r in results)

    s = json.loads((out / "cv_summary.json").read_text())
    accs = [r["test_acc"] for r in results]
    assert s["complete"] and s["folds"] == [1, 2, 3] and len(s["rows"]) == 1
    row = s["rows"][0]
    assert row["folds"] == {str(r["fold"]): r["test_acc"] for r in results}
    assert row["mean"] == pytest.approx(statistics.fmean(accs))
    assert row["std"] == pytest.approx(statistics.stdev(accs))
    assert row["best_epoch_mean"] == pytest.approx(
        statistics.fmean(r["best_epoch_test_acc"] for r in results)
    )
    md = (out / "cv_summary.md").read_text()
    assert f"{100 * statistics.fmean(accs):.1f} ± {100 * statistics.stdev(accs):.1f}" in md
    assert (out / "cv_summary.png").stat().st_size > 0

    # Out-of-fold predictions of all folds, pooled: every held-out clip once, scored by its fold.
    pooled = row["pooled"]
    assert pooled["folds"] == [1, 2, 3]
    assert pooled["num_clips"] == sum(r["num_test"] for r in results)
    assert pooled["accuracy"] == pytest.approx(
        sum(r["test_acc"] * r["num_test"] for r in results) / pooled["num_clips"], abs=1e-6
    )
    assert (Path(pooled["dir"]) / "confusion_matrix.png").stat().st_size > 0
    assert "Pooled out-of-fold predictions" in md

    # W&B: one complete run per job, all in the sweep's group, named and configured per fold.
    runs = [wandb_runs(out / str(i)) for i in range(3)]
    assert all(len(r) == 1 for r in runs)
    runs = [r[0] for r in runs]
    group = f"default/{out.name}"
    assert len({r["run_id"] for r in runs}) == 3
    for fold, run, res in zip((1, 2, 3), runs, results, strict=True):
        assert run["group"] == group and "default" in run["tags"] and run["exit_code"] == 0
        assert f"fold{fold}" in run["name"] and run["config"]["data"]["fold"] == fold
        assert f"data.fold={fold}" in run["config"]["hydra_job"]["overrides"]
        assert run["config"]["optim"]["lr"] == 0.01  # the resolved config
        assert {"train/acc", "val/acc", "test/acc", "lr-SGD"} <= run["history_keys"]
        assert run["run_id"] == res["wandb_run_id"]
    (summary_run,) = wandb_runs(out)  # the callback's 'summary' run, same group
    assert summary_run["group"] == group and summary_run["exit_code"] == 0
    assert summary_run["summary"][f"cv/{row['configuration']}/mean"] == pytest.approx(row["mean"])


@pytest.mark.slow
def test_crashed_job_is_finished_and_later_jobs_still_log(tmp_path, tiny_overrides):
    es = "{_target_:lightning.pytorch.callbacks.EarlyStopping,monitor:val/acc,mode:max}"
    out = tmp_path / "sweep"
    proc = run_cli(
        "fpam_lightning.train",
        "-m",
        *tiny_overrides,
        "logger=wandb",
        f"+callbacks.extra.es={es}",
        "callbacks.extra.es.monitor=no/such_metric,val/acc",
        f"hydra.sweep.dir={out}",
        timeout=900,
        check=False,
    )
    assert proc.returncode == 1 and "no/such_metric" in proc.stderr.strip().splitlines()[-1]
    failed = json.loads((out / "0" / "results.json").read_text())
    assert failed["status"] == "failed" and "no/such_metric" in failed["error"]
    assert json.loads((out / "1" / "results.json").read_text())["status"] == "completed"
    (crashed,), (later,) = wandb_runs(out / "0"), wandb_runs(out / "1")
    assert crashed["exit_code"] == 1 and later["exit_code"] == 0
    assert crashed["run_id"] != later["run_id"] and crashed["group"] == later["group"]
    s = json.loads((out / "cv_summary.json").read_text())
    assert [f["fold"] for f in s["failed"]] == [1] and not s["complete"]
    assert "no/such_metric" in (out / "cv_summary.md").read_text()


@pytest.mark.slow
def test_ablation_mixup_grid_shrunk(tmp_path, tiny_overrides):
    out, results = sweep(tmp_path, ["+experiment=ablation_mixup", *tiny_overrides], "data.fold=1,2")
    assert len(results) == 8 and all(r["status"] == "completed" for r in results)
    assert {(r["attention"], r["mixup"], r["fold"]) for r in results} == {
        (a, m, f) for a in ("none", "fpam") for m in (False, True) for f in (1, 2)
    }
    s = json.loads((out / "cv_summary.json").read_text())
    assert s["complete"] and s["dims"] == ["attention", "mixup"]
    assert sorted(r["configuration"] for r in s["rows"]) == [
        "attention=fpam mixup=off",
        "attention=fpam mixup=on",
        "attention=none mixup=off",
        "attention=none mixup=on",
    ]
    for row in s["rows"]:
        mine = [
            r["test_acc"]
            for r in results
            if row["attention"] == r["attention"] and row["mixup"] == r["mixup"]
        ]
        assert row["n_completed"] == 2 and row["mean"] == pytest.approx(statistics.fmean(mine))


@pytest.mark.slow
def test_submitit_local_runs_each_fold_as_a_job(tmp_path, tiny_overrides):
    out, results = sweep(
        tmp_path,
        tiny_overrides,
        "data.fold=1,2",
        "hydra/launcher=submitit_local",
        "hydra.launcher.timeout_min=15",
    )
    assert [r["fold"] for r in results] == [1, 2]
    assert all(r["status"] == "completed" for r in results)
    assert len(list((out / ".submitit").iterdir())) >= 2  # one submitit job folder per fold
    assert json.loads((out / "cv_summary.json").read_text())["complete"]


@pytest.mark.parametrize("name", EXPERIMENTS)
def test_experiment_recipes_compose(name, tmp_path):
    from hydra.core.hydra_config import HydraConfig

    from fpam_lightning.training.config_checks import validate
    from fpam_lightning.utils.conf import option_name

    cfg = compose_train([f"+experiment={name}"], tmp_path)
    assert cfg.experiment == name
    validate(cfg)
    folds = "1,2,3,4,5,6,7,8,9,10" if name == "us8k_tutorial" else "1,2,3,4,5"
    if name == "search_esc10":  # one fold's training folds, split: see tests/test_search.py
        folds = "1"
        assert cfg.data.val == "split" and str(HydraConfig.get().sweeper.direction) == "maximize"
    assert HydraConfig.get().sweeper.params["data.fold"] == folds
    if name in OUR_RECIPE:
        _check_our_recipe(cfg, name)
    if name.startswith(("paper_fpam", "paper_baseline")):
        esc10 = name.endswith("esc10")
        assert cfg.data.batch_size == (16 if esc10 else 32)
        assert cfg.data.num_classes == (10 if esc10 else 50)
        assert option_name("optim") == "sgd" and cfg.optim.lr == 0.01 and cfg.optim.momentum == 0.9
        assert cfg.optim.weight_decay == 1e-4
        assert option_name("scheduler") == "step" and cfg.scheduler.schedule.step_size == 20
        assert cfg.trainer.max_epochs == 60 and cfg.backbone.name == "resnet50"
        assert cfg.attention.name == ("none" if "baseline" in name else "fpam")
        assert not cfg.mixup.enabled
    if name == "us8k_tutorial":
        assert cfg.backbone.name == "tutorial_cnn" and cfg.attention.name == "none"
        assert cfg.features.n_mels == 128 and option_name("scheduler") == "cosine"
        assert cfg.model.classifier.hidden == 128 and cfg.augment.time_flip == 0.5
        assert (cfg.model.classifier.dropout, cfg.model.classifier.hidden_dropout) == (0.4, 0.2)


def _check_our_recipe(cfg, name: str) -> None:
    from fpam_lightning.utils.conf import option_name

    esc10 = name.endswith(("esc10", "esc10_scratch_cpu"))
    assert cfg.data.num_classes == (10 if esc10 else 50)
    assert cfg.features.normalize == "per_mel" and option_name("optim") == "adamw"
    assert option_name("scheduler") == "cosine" and cfg.scheduler.warmup_epochs > 0
    assert cfg.loss.label_smoothing > 0 and cfg.mixup.enabled and cfg.ema.enabled
    assert 0.9 < cfg.ema.decay < 1 and cfg.augment.freq_mask and cfg.augment.time_mask
    assert cfg.augment.time_shift > 0 and cfg.augment.gain_db > 0
    if name == "esc10_scratch_cpu":
        assert cfg.backbone.name == "resnet18" and not cfg.backbone.paper_stem
        assert cfg.trainer.accelerator == "cpu" and cfg.trainer.max_epochs == 60
        assert cfg.data.batch_size == 32 and cfg.data.val == "none"
    if name.startswith("paper_recipe"):  # the paper's protocol, beside paper_fpam_*
        assert cfg.backbone.name == "resnet50" and cfg.backbone.paper_stem
        assert cfg.attention.name == "fpam" and cfg.model.variant == "paper"
        assert cfg.trainer.max_epochs == 60 and cfg.data.batch_size == (16 if esc10 else 32)


@pytest.mark.parametrize(
    ("launcher", "target"),
    [
        ("slurm", "SlurmLauncher"),
        ("slurm_cpu", "SlurmLauncher"),
        ("submitit_slurm", "SlurmLauncher"),
        ("submitit_local", "LocalLauncher"),
        ("local_parallel", "JoblibLauncher"),
    ],
)
def test_launcher_configs_compose(launcher, target, tmp_path):
    from hydra.core.hydra_config import HydraConfig

    compose_train([f"hydra/launcher={launcher}"], tmp_path)
    assert HydraConfig.get().launcher._target_.endswith(target)
