"""Hyperparameter search (hydra/sweeper=optuna, training/search.py) as a user runs it.

A tiny search of the real `search_esc10` experiment through the CLI: each trial's value is its
inner-split accuracy, the study is stored in SQLite and resumed, and the best trial comes back
as an experiment file that composes and trains. A search that would score trials on the
held-out fold is refused with one line, by the experiment's callback and by the job itself.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from helpers import compose_config, run_cli
from hydra.core.hydra_config import HydraConfig
from omegaconf import OmegaConf

from fpam_lightning import train as train_command
from fpam_lightning.training.run import train
from fpam_lightning.training.search import SearchCallback, best_experiment, reads_test_fold

optuna = pytest.importorskip("optuna")  # the `search` extra (in `dev`)
REFUSAL = "error: a hyperparameter search must not score trials on the held-out fold"


def search(tmp_path: Path, tiny: list[str], name: str, *extra: str, check: bool = True):
    return run_cli(
        "fpam_lightning.train",
        "-m",
        "+experiment=search_esc10",
        *tiny,
        *extra,
        f"hydra.sweep.dir={tmp_path / name}",
        f"paths.log_dir={tmp_path / 'logs'}",
        timeout=900,
        check=check,
    )


def load(sweep: Path):
    return optuna.load_study(study_name="search_esc10", storage=f"sqlite:///{sweep}/optuna.db")


@pytest.mark.slow
def test_a_tiny_search_optimises_the_inner_split_stores_resumes_and_writes_the_best(
    tmp_path, tiny_overrides
):
    search(tmp_path, tiny_overrides, "a", "hydra.sweeper.n_trials=2")
    sweep = tmp_path / "a"
    study = load(sweep)
    assert [t.state.name for t in study.trials] == ["COMPLETE", "COMPLETE"]
    for trial in study.trials:  # job i ran trial i: its value is that job's inner-split accuracy
        results = json.loads((sweep / str(trial.number) / "results.json").read_text())
        assert results["val_mode"] == "split" and results["fold"] == 1
        assert trial.value == results["val_acc"] is not None
        assert results["num_train"] < 32  # the split came out of the 32 training clips
        assert results["test_acc"] is None and results["held_out"] == "not read (search trial)"
        assert not (sweep / str(trial.number) / "predictions.csv").exists()
        for key, value in trial.params.items():
            assert OmegaConf.select(
                OmegaConf.load(sweep / str(trial.number) / ".hydra" / "config.yaml"), key
            ) == pytest.approx(value)

    assert not (sweep / "cv_summary.md").exists()  # no held-out numbers to tabulate
    # The best trial as an experiment: esc10_scratch_cpu plus its values, on all folds.
    best = study.best_trial
    text = (sweep / "experiment" / "esc10_searched.yaml").read_text()
    assert text == (sweep / "best_experiment.yaml").read_text()
    assert text.startswith("# @package _global_") and f"trial {best.number} of 2" in text
    assert "data=synthetic" in text  # the search's own command line, for the record
    cfg = compose_config(
        "train",
        ["+experiment=esc10_searched", f"hydra.searchpath=[file://{sweep}]", *tiny_overrides],
        tmp_path / "best",
    )
    assert cfg.experiment == "esc10_searched" and cfg.data.val == "none"
    assert HydraConfig.get().sweeper.params["data.fold"] == "1,2,3,4,5"
    for key, value in best.params.items():
        assert OmegaConf.select(cfg, key) == pytest.approx(value)
    assert train(cfg)["status"] == "completed"

    # Resume: more trials into the same study, from a new sweep folder.
    search(
        tmp_path,
        tiny_overrides,
        "b",
        "hydra.sweeper.n_trials=1",
        f"hydra.sweeper.storage=sqlite:///{sweep}/optuna.db",
    )
    assert len(load(sweep).trials) == 3
    assert "of 3" in (tmp_path / "b" / "best_experiment.yaml").read_text()
    assert not (tmp_path / "b" / "optuna.db").exists()


def test_a_search_on_the_test_fold_is_refused_before_the_study(tmp_path, tiny_overrides):
    proc = search(tmp_path, tiny_overrides, "a", "data.val=test_fold", check=False)
    assert proc.returncode == 2 and proc.stderr.startswith(REFUSAL), proc.stderr[-2000:]
    assert "data.val=split" in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "a" / "optuna.db").exists() and not (tmp_path / "a" / "0").exists()


def test_a_plain_optuna_sweep_on_the_test_fold_is_refused_by_the_job(tmp_path, tiny_overrides):
    """Without the search experiment (no callback) the first job refuses, before any data."""
    proc = run_cli(
        "fpam_lightning.train",
        "-m",
        *tiny_overrides,
        "hydra/sweeper=optuna",
        "hydra.sweeper.n_trials=1",
        "optim.lr=interval(0.001,0.01)",
        f"hydra.sweep.dir={tmp_path / 's'}",
        check=False,
    )
    assert proc.returncode == 2 and REFUSAL in proc.stderr, proc.stderr[-2000:]
    assert not (tmp_path / "s" / "0" / "results.json").exists()


def _search_job(tmp_path, tiny: list[str], *extra: str):
    """A job's config as the Optuna sweeper hands it over (multirun mode)."""
    return compose_config(
        "train", [*tiny, "hydra/sweeper=optuna", "hydra.mode=MULTIRUN", *extra], tmp_path
    )


def test_a_search_job_returns_the_inner_split_never_the_test_fold(tmp_path, tiny_overrides):
    """The value a job hands the sweeper, from a real tiny training run: in a search, its
    inner-split accuracy (and a failed trial 0.0, so the search goes on); outside one, the
    test accuracy, as before."""

    def results(folder: Path) -> dict:
        return json.loads((folder / "results.json").read_text())

    trial = _search_job(tmp_path / "trial", tiny_overrides, "data.val=split")
    value = train_command.main(trial)
    assert value == results(tmp_path / "trial")["val_acc"] is not None
    assert results(tmp_path / "trial")["test_acc"] is None  # a trial never reads the test fold

    failed = _search_job(tmp_path / "failed", tiny_overrides, "data.val=split", "data.fold=9")
    assert train_command.main(failed) == 0.0
    assert results(tmp_path / "failed")["status"] == "failed"

    plain = compose_config("train", [*tiny_overrides, "data.val=split"], tmp_path / "plain")
    assert train_command.main(plain) == results(tmp_path / "plain")["test_acc"] is not None


def test_the_callback_refuses_a_search_space_over_the_test_fold(tmp_path, capsys):
    sweep = {"_target_": "x.OptunaSweeper", "params": {"data.val": "choice(split, test_fold)"}}
    config = OmegaConf.create(
        {"data": {"val": "split"}, "hydra": {"sweeper": sweep, "sweep": {"dir": str(tmp_path)}}}
    )
    with pytest.raises(SystemExit) as stop:
        SearchCallback("esc10_scratch_cpu", "best").on_multirun_start(config)
    assert stop.value.code == 2 and capsys.readouterr().err.startswith(REFUSAL)
    config.hydra.sweeper.params["data.val"] = "split"
    SearchCallback("esc10_scratch_cpu", "best").on_multirun_start(config)  # allowed


def test_only_an_inner_split_may_score_trials():
    assert reads_test_fold("split") is None
    assert "held-out fold (data.val=test_fold)" in reads_test_fold("test_fold")
    assert "data.val=none has none" in reads_test_fold("none")


def test_best_experiment_puts_group_choices_in_the_defaults():
    got = best_experiment({"optim": "sgd", "optim.lr": 0.05, "+seed": 3}, "esc10_scratch_cpu", "b")
    assert got == {
        "defaults": ["esc10_scratch_cpu", {"override /optim": "sgd"}, "_self_"],
        "experiment": "b",
        "optim": {"lr": 0.05},
        "seed": 3,
    }


def test_the_pretrained_head_grid_has_four_points_and_every_arm_takes_each(tmp_path):
    """search_esc50_pretrained: optuna's GridSampler over FPAM's width and the global branch; a
    recipe holding any grid point must still build each arm of the ablation (none included)."""
    import torch

    from fpam_lightning.models import build_classifier
    from fpam_lightning.training.build import net_config
    from fpam_lightning.training.config_checks import validate

    compose_config("train", ["+experiment=search_esc50_pretrained"], tmp_path / "grid")
    sweeper = HydraConfig.get().sweeper
    assert sweeper.sampler._target_ == "optuna.samplers.GridSampler" and sweeper.n_trials == 4
    assert sweeper.params["attention.channels"] == "choice(128, 384)"
    assert sweeper.params["attention.global_branch"] == "choice(false, true)"
    wave = torch.randn(2, 32000)
    for channels in (128, 384):
        for branch in ("false", "true"):
            for arm in ("none", "pyramid", "fpam"):
                overrides = [
                    "+experiment=esc50_pretrained_cpu",
                    f"attention={arm}",
                    f"attention.channels={channels}",
                    f"attention.global_branch={branch}",
                ]
                cfg = compose_config("train", overrides, tmp_path / arm)
                validate(cfg)
                net = build_classifier(net_config(cfg), 50).eval()
                assert net(wave).shape == (2, 50)
                has_branch = getattr(net.head, "global_branch", None) is not None
                assert has_branch == (arm != "none" and branch == "true")


@pytest.mark.slow
def test_the_pretrained_head_grid_runs_each_point_once_on_the_inner_split(tmp_path, tiny_overrides):
    """The grid end to end on synthetic clips: four trials, one per point, none tested on the
    held-out fold, and the best point written as an experiment."""
    tiny = [o for o in tiny_overrides if not o.startswith(("backbone=", "attention.channels"))]
    run_cli(
        "fpam_lightning.train",
        "-m",
        "+experiment=search_esc50_pretrained",
        *tiny,
        f"hydra.sweep.dir={tmp_path / 'grid'}",
        timeout=900,
    )
    study = optuna.load_study(
        study_name="search_esc50_pretrained", storage=f"sqlite:///{tmp_path / 'grid'}/optuna.db"
    )
    points = {
        (t.params["attention.channels"], t.params["attention.global_branch"]) for t in study.trials
    }
    assert points == {(128, False), (128, True), (384, False), (384, True)}
    for trial in study.trials:
        results = json.loads((tmp_path / "grid" / str(trial.number) / "results.json").read_text())
        assert results["backbone"] == "efficientat" and results["val_mode"] == "split"
        assert results["test_acc"] is None and trial.value == results["val_acc"]
    best = (tmp_path / "grid" / "experiment" / "esc50_pretrained_searched.yaml").read_text()
    assert "- esc50_pretrained_cpu" in best and "global_branch" in best
