"""Config validation: every bad setting stops the run early with one line naming the choices."""

from __future__ import annotations

import pytest
from helpers import CONF, compose_train, error_lines, run_cli

from fpam_lightning.training.config_checks import validate
from fpam_lightning.utils.conf import group_options
from fpam_lightning.utils.errors import ConfigError

BAD = {
    "esc10 fold 6": (
        ["data=esc10", "data.fold=6"],
        "data.fold=6 is out of range for esc10: choose 1..5",
    ),
    "esc50 fold 0": (["data.fold=0"], "data.fold=0 is out of range for esc50: choose 1..5"),
    "us8k fold 11": (["data=us8k", "data.fold=11"], "choose 1..10"),
    "zero batch": (["data.batch_size=0"], "data.batch_size=0 must be a positive integer"),
    "negative batch": (["data.batch_size=-8"], "data.batch_size=-8 must be a positive integer"),
    "level 1": (["attention.levels=[1,3,4]"], "has levels [2, 3, 4, 5]"),
    "level 6": (["attention=psa", "attention.levels=[6]"], "[6] is not among them"),
    "timm name": (["backbone.name=resnet5"], "backbone.name='resnet5' is not a timm model"),
    "head argument": (["+attention.chanels=8"], "attention.chanels is not an argument of"),
    "head width": (["attention.channels=0"], "attention.channels=0 must be a positive integer"),
    "optimiser": (
        ["optim._target_=torch.optim.SDG"],
        "optim._target_='torch.optim.SDG' is not a torch optimiser: choose with "
        "optim=<one of adamw, sgd>; did you mean torch.optim.SGD?",
    ),
    "optimiser label": (  # the option's name is Hydra's choice: no label to disagree with it
        ["+optim.name=sgdd"],
        "optim.name is not an argument of torch.optim.SGD (its arguments: lr, momentum",
    ),
    "optimiser argument": (
        ["+optim.momentun=0.9"],
        "optim.momentun is not an argument of torch.optim.SGD (its arguments: lr, momentum",
    ),
    "optimiser partial": (["optim._partial_=false"], "optim._partial_ must be true"),
    "learning rate": (["optim.lr=0"], "optim.lr=0 must be a positive number"),
    "scheduler": (
        ["scheduler.schedule._target_=torch.optim.lr_scheduler.PolyLR"],
        "did you mean torch.optim.lr_scheduler.PolynomialLR?",
    ),
    "scheduler label": (
        ["scheduler.schedule._target_=torch.optim.lr_scheduler.PolyLR"],
        "is not a torch learning-rate scheduler: choose with scheduler=<one of cosine, none, step>",
    ),
    "scheduler argument": (
        ["scheduler=cosine", "+scheduler.schedule.T_maxx=5"],
        "scheduler.schedule.T_maxx is not an argument of "
        "torch.optim.lr_scheduler.CosineAnnealingLR",
    ),
    "scheduler needs": (
        ["scheduler.schedule._target_=torch.optim.lr_scheduler.MultiStepLR"],
        "torch.optim.lr_scheduler.MultiStepLR needs scheduler.schedule.milestones",
    ),
    "warm-up": (["scheduler.warmup_epochs=-2"], "scheduler.warmup_epochs=-2 must be 0 or a"),
    "floor": (["scheduler=cosine", "scheduler.min_lr_ratio=2"], "must be between 0 and 1"),
    "cosine without end": (
        ["scheduler=cosine", "trainer.max_epochs=-1"],
        "scheduler=cosine needs a finite trainer.max_epochs",
    ),
    "time flip": (["augment.time_flip=1.5"], "augment.time_flip=1.5 must be a probability"),
    "masks": (["augment.num_masks=-1"], "augment.num_masks=-1 must be 0 or a positive integer"),
    "variant": (["model.variant=mine"], "choose one of paper, authors"),
    "val mode": (["data.val=holdout"], "choose one of test_fold, split, none"),
    "epochs": (["trainer.max_epochs=0"], "trainer.max_epochs=0 must be a positive integer"),
    "resume file": (["ckpt_path=/nonexistent/x.ckpt"], "ckpt_path=/nonexistent/x.ckpt is not"),
    "backbone file": (["backbone.checkpoint=/nonexistent/w.pt"], "is not a file"),
    # The front end: before it, these ended in a traceback from the FLOP count.
    "no mels": (["features.n_mels=0"], "features.n_mels=0 must be a positive integer"),
    "negative mels": (["features.n_mels=-4"], "features.n_mels=-4 must be a positive integer"),
    "no sample rate": (
        ["features.sample_rate=0"],
        "features.sample_rate=0 must be a positive integer",
    ),
    "hop": (["features.hop_length=0"], "features.hop_length=0 must be a positive integer"),
    "window": (["features.win_length=2048"], "win_length=2048 must not exceed features.n_fft"),
    "power": (["features.power=0"], "features.power=0 must be positive"),
    "f_max": (["features.f_max=9000"], "features.f_max=9000 must be above features.f_min=0.0"),
    "f_min": (["features.f_min=-20"], "features.f_min=-20 must be 0 or a positive frequency"),
    "no clip": (["data.clip_seconds=0"], "data.clip_seconds=0 must be a positive number"),
    "short cache": (
        ["data.clip_seconds=2", "data.cache_seconds=1"],
        "data.cache_seconds=1 must be null or at least data.clip_seconds=2",
    ),
    "clip under one frame": (
        ["data.clip_seconds=0.02"],
        "data.clip_seconds=0.02 gives 320 samples at 16000 Hz, too short for one STFT frame",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_each_bad_setting_is_named_with_its_choices(case, tmp_path):
    overrides, expected = BAD[case]
    with pytest.raises(ConfigError) as err:
        validate(compose_train(overrides, tmp_path))
    assert expected in str(err.value)
    assert "\n" not in str(err.value)


def test_any_torch_optimiser_and_schedule_validate_under_their_own_label(tmp_path):
    adam = ["optim._target_=torch.optim.Adam", "~optim.momentum"]
    poly = ["scheduler.schedule._target_=torch.optim.lr_scheduler.PolynomialLR"]
    no_step = [
        "~scheduler.schedule.step_size",
        "~scheduler.schedule.gamma",
        "+scheduler.schedule.total_iters=10",
    ]
    validate(compose_train([*adam, "~optim.nesterov", *poly, *no_step], tmp_path))


def test_runs_without_an_end_keep_step_and_constant_schedules(tmp_path):
    for scheduler in ("step", "none"):
        validate(compose_train([f"scheduler={scheduler}", "trainer.max_epochs=-1"], tmp_path))


def test_close_timm_names_are_suggested(tmp_path):
    with pytest.raises(ConfigError, match="did you mean .*resnet50"):
        validate(compose_train(["backbone.name=resnet05"], tmp_path))


def test_all_problems_in_one_message(tmp_path):
    with pytest.raises(ConfigError) as err:
        validate(compose_train(["data.fold=9", "data.batch_size=0", "optim.lr=0"], tmp_path))
    msg = str(err.value)
    assert msg.count(";") >= 2 and "data.fold=9" in msg and "batch_size=0" in msg


@pytest.mark.parametrize("data", group_options("data"))
def test_every_data_set_validates_on_its_folds(data, tmp_path):
    cfg = compose_train([f"data={data}"], tmp_path)
    validate(cfg)


@pytest.mark.parametrize("experiment", group_options("experiment"))
def test_every_shipped_experiment_validates(experiment, tmp_path):
    validate(compose_train([f"+experiment={experiment}"], tmp_path))


def test_group_options_come_from_conf():
    assert set(group_options("backbone")) == {p.stem for p in (CONF / "backbone").glob("*.yaml")}
    assert "resnet50" in group_options("backbone")


def test_cli_stops_before_data_with_one_line_and_exit_code_2(tmp_path):
    data = tmp_path / "data"
    proc = run_cli(
        "fpam_lightning.train",
        "data=esc10",
        "data.fold=6",
        "data.batch_size=0",
        f"paths.data_dir={data}",
        f"hydra.run.dir={tmp_path / 'run'}",
        "logger=none",
        check=False,
    )
    assert proc.returncode == 2, proc.stderr[-2000:]
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1
    assert "choose 1..5" in errors[0] and "data.batch_size=0" in errors[0]
    assert "Traceback" not in proc.stderr + proc.stdout
    assert not data.exists()  # nothing was downloaded or built


@pytest.mark.slow
def test_cli_unknown_group_option_lists_the_choices(tmp_path):
    proc = run_cli(
        "fpam_lightning.train",
        "backbone=resnet51",
        f"hydra.run.dir={tmp_path / 'run'}",
        check=False,
    )
    assert proc.returncode != 0
    assert "Could not find 'backbone/resnet51'" in proc.stderr
    for option in group_options("backbone"):
        assert option in proc.stderr
    assert "Traceback" not in proc.stderr


@pytest.mark.parametrize(
    "override,expected",
    [
        ("data.clip_seconds=0", "data.clip_seconds=0 must be a positive number of seconds"),
        ("features.sample_rate=0", "features.sample_rate=0 must be a positive integer"),
        ("features.n_mels=0", "features.n_mels=0 must be a positive integer"),
    ],
)
def test_cli_front_end_errors_are_one_line_with_exit_code_2(override, expected, tmp_path):
    """Before: exit 1 through Hydra's instantiate wrapper, or a 68-line FLOP-count traceback;
    and features.sample_rate=0 was blamed on data.clip_seconds."""
    proc = run_cli(
        "fpam_lightning.train",
        override,
        f"paths.data_dir={tmp_path / 'data'}",
        f"hydra.run.dir={tmp_path / 'run'}",
        "logger=none",
        check=False,
    )
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert error_lines(proc.stderr) == [f"error: invalid configuration: {expected}"]
    assert "Traceback" not in proc.stderr + proc.stdout


@pytest.mark.parametrize(
    "override,expected",
    [
        ("data.batch_size=x", "data.batch_size='x' must be a positive integer"),
        ("ema.decay=often", "ema.decay='often' must be between 0 and 1 (e.g. 0.999)"),
        ("model.classifier.hidden=wide", "model.classifier.hidden='wide': Value 'wide' of type"),
    ],
)
def test_cli_a_value_of_the_wrong_type_is_one_line_with_exit_code_2(override, expected, tmp_path):
    """Refused against the schema (Hydra while composing, or the data module's problems()), it
    reads like any bad setting."""
    proc = run_cli(
        "fpam_lightning.train",
        override,
        f"paths.data_dir={tmp_path / 'data'}",
        f"hydra.run.dir={tmp_path / 'run'}",
        "logger=none",
        check=False,
    )
    assert proc.returncode == 2, proc.stderr[-2000:]
    (line,) = error_lines(proc.stderr)
    assert line.startswith(f"error: invalid configuration: {expected}")
    assert "Traceback" not in proc.stderr + proc.stdout
    assert not (tmp_path / "data").exists()


@pytest.mark.parametrize(
    "override,said",
    [("ema.bogus=1", "Key 'bogus' not in"), ("data.bogus=1", "use +data.bogus=1")],
)
def test_cli_an_unknown_key_keeps_hydras_message_and_exit_code_1(override, said, tmp_path):
    """Only wrong types are rewritten: a key the schema (a dataclass, or a `_target_` node's
    YAML) lacks is Hydra's to explain, as before."""
    proc = run_cli(
        "fpam_lightning.train", override, f"hydra.run.dir={tmp_path / 'run'}", check=False
    )
    assert proc.returncode == 1, proc.stderr[-2000:]
    assert said in proc.stderr and "Traceback" not in proc.stderr
    assert "HYDRA_FULL_ERROR=1 for a complete stack trace" in proc.stderr


def test_an_appended_data_key_is_checked_against_the_data_modules_signature(tmp_path):
    """The data node's schema is its class: ESC50DataModule's own arguments and, through its
    **kwargs, FoldDataModule's."""
    with pytest.raises(ConfigError) as err:
        validate(compose_train(["+data.batchsize=8"], tmp_path))
    msg = str(err.value)
    assert "data.batchsize is not an argument of fpam_lightning.data.ESC50DataModule" in msg
    assert "did you mean batch_size?" in msg and "subset" in msg


def test_a_front_end_too_small_for_the_backbone_fails_in_one_line(tmp_path):
    """What no rule foresees fails at the first forward pass (the FLOP count), as a ConfigError."""
    from hydra.utils import instantiate

    from fpam_lightning.training.build import build_module, module_hparams
    from fpam_lightning.training.run import first_forward_flops

    overrides = ["backbone=tutorial_cnn", "attention=none", "features.n_mels=1", "data=synthetic"]
    cfg = compose_train([*overrides, f"paths.data_dir={tmp_path}"], tmp_path)
    validate(cfg)
    dm = instantiate(cfg.data, _convert_="all")  # not prepared: the model needs only its sizes
    with pytest.raises(ConfigError, match="the network cannot take a 16000-sample clip with "
                       "features.n_mels=1") as err:  # fmt: skip
        first_forward_flops(build_module(module_hparams(cfg), dm), dm)
    assert "\n" not in str(err.value)
