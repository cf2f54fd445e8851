"""The optimiser and schedule (training/optim.py) instantiated from conf/optim and conf/scheduler.

Per-epoch learning rates must equal those of the LambdaLR factors used before the switch to
torch schedulers (the formulas below), to 1e-9 relative, warm-up or not.
"""

from __future__ import annotations

import io
import math

import pytest
import torch
from helpers import compose_train
from omegaconf import OmegaConf

from fpam_lightning.training.optim import build_optimizer, build_scheduler, saved_configs
from fpam_lightning.utils.conf import group_options, option_name


def step_factor(e: int, step_size: int, gamma: float, warmup: int) -> float:
    return (e + 1) / (warmup + 1) if e < warmup else gamma ** (e // step_size)


def cosine_factor(e: int, max_epochs: int, floor: float, warmup: int) -> float:
    if e < warmup:
        return (e + 1) / (warmup + 1)
    t = min(1.0, (e - warmup) / max(1, max_epochs - warmup))
    return floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * t))


def _configs(overrides: list[str], tmp_path) -> tuple[dict, dict]:
    cfg = compose_train(overrides, tmp_path)
    return tuple(OmegaConf.to_container(cfg[k], resolve=True) for k in ("optim", "scheduler"))


def _optimizer(cfg: dict) -> torch.optim.Optimizer:
    return build_optimizer([torch.nn.Parameter(torch.zeros(3))], cfg)


def per_epoch_lrs(optim: dict, sched: dict, max_epochs: int) -> list[float]:
    """The learning rate of each epoch, stepping the schedule once per epoch as Lightning does."""
    opt = _optimizer(optim)
    scheduler = build_scheduler(opt, sched, max_epochs)
    lrs = []
    for _ in range(max_epochs):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        if scheduler is not None:
            scheduler.step()
    return lrs


CASES = {
    "step": (["scheduler=step"], 60),
    "step, small steps": (
        ["scheduler.schedule.step_size=3", "scheduler.schedule.gamma=0.5", "optim=adamw"],
        12,
    ),
    "step + warmup": (["scheduler.schedule.step_size=4", "scheduler.warmup_epochs=3"], 15),
    "step + warmup past a decay": (
        ["scheduler.schedule.step_size=2", "scheduler.warmup_epochs=5"],
        12,
    ),
    "cosine": (["scheduler=cosine"], 12),
    "cosine + floor": (["scheduler=cosine", "scheduler.min_lr_ratio=0.05"], 30),
    "cosine + warmup": (["scheduler=cosine", "scheduler.warmup_epochs=20"], 60),
    "cosine + warmup + floor": (
        ["scheduler=cosine", "scheduler.warmup_epochs=2", "scheduler.min_lr_ratio=0.1"],
        9,
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_per_epoch_lr_equals_the_former_lambda_factors(case, tmp_path):
    overrides, max_epochs = CASES[case]
    optim, sched = _configs(overrides, tmp_path)
    lr, warmup = optim["lr"], sched["warmup_epochs"]
    if option_name("scheduler") == "step":
        step = sched["schedule"]
        expected = [
            lr * step_factor(e, step["step_size"], step["gamma"], warmup) for e in range(max_epochs)
        ]
    else:
        floor = sched["min_lr_ratio"]
        expected = [lr * cosine_factor(e, max_epochs, floor, warmup) for e in range(max_epochs)]
    got = per_epoch_lrs(optim, sched, max_epochs)
    assert got == pytest.approx(expected, rel=1e-9, abs=0)
    assert (warmup > 0) == isinstance(
        build_scheduler(_optimizer(optim), sched, max_epochs),
        torch.optim.lr_scheduler.SequentialLR,
    )


def test_no_schedule_keeps_the_learning_rate(tmp_path):
    optim, sched = _configs(["scheduler=none"], tmp_path)
    assert build_scheduler(_optimizer(optim), sched, 10) is None
    assert per_epoch_lrs(optim, sched, 5) == [0.01] * 5


def test_optimisers_are_the_named_torch_classes_with_their_arguments(tmp_path):
    optim, _ = _configs(["optim.weight_decay=1e-4", "optim.nesterov=true"], tmp_path / "sgd")
    sgd = _optimizer(optim)
    assert type(sgd) is torch.optim.SGD and option_name("optim") == "sgd"
    assert {k: sgd.defaults[k] for k in ("lr", "momentum", "weight_decay", "nesterov")} == {
        "lr": 0.01,
        "momentum": 0.9,
        "weight_decay": 1e-4,
        "nesterov": True,
    }
    optim, _ = _configs(["optim=adamw"], tmp_path / "adamw")
    adamw = _optimizer(optim)
    assert type(adamw) is torch.optim.AdamW and option_name("optim") == "adamw"
    assert (adamw.defaults["lr"], adamw.defaults["weight_decay"]) == (1e-3, 0.01)


@pytest.mark.parametrize("experiment", group_options("experiment"))
def test_every_experiment_builds_its_optimiser_and_schedule(experiment, tmp_path):
    cfg = compose_train([f"+experiment={experiment}"], tmp_path)
    optim, sched = _configs([f"+experiment={experiment}"], tmp_path)
    opt = _optimizer(optim)
    scheduler = build_scheduler(opt, sched, int(cfg.trainer.max_epochs))
    assert (scheduler is None) == (option_name("scheduler") == "none")
    assert type(opt).__name__.lower() == option_name("optim")


def test_configs_and_schedule_state_load_with_weights_only(tmp_path):
    """Checkpoints keep the configs (hyperparameters) and the schedule's state: both must load
    with torch.load(weights_only=True), and a restored schedule must carry on the same way."""
    optim, sched = _configs(
        ["scheduler.schedule.step_size=2", "scheduler.warmup_epochs=3"], tmp_path
    )
    opt = _optimizer(optim)
    scheduler = build_scheduler(opt, sched, 12)
    for _ in range(4):
        opt.step()
        scheduler.step()
    buf = io.BytesIO()
    torch.save({"optim": optim, "scheduler": sched, "state": scheduler.state_dict()}, buf)
    buf.seek(0)
    saved = torch.load(buf, weights_only=True)
    assert saved["optim"] == optim and saved["scheduler"] == sched

    opt2 = _optimizer(optim)
    restored = build_scheduler(opt2, sched, 12)
    restored.load_state_dict(saved["state"])
    opt2.param_groups[0]["lr"] = opt.param_groups[0]["lr"]  # as the optimizer state restores it
    for _ in range(6):
        for o, s in ((opt, scheduler), (opt2, restored)):
            o.step()
            s.step()
        assert opt2.param_groups[0]["lr"] == opt.param_groups[0]["lr"]


def test_configs_saved_before_the_schema_build_the_same_schedule(tmp_path):
    """Checkpoints written before the schema keep `name` labels and a flat scheduler: read back,
    they build the optimiser and per-epoch rates of today's configs."""
    optim, sched = _configs(["scheduler=cosine", "scheduler.warmup_epochs=2"], tmp_path)
    old_optim = {**optim, "name": "sgd"}
    old_sched = {"name": "cosine", **sched["schedule"], "warmup_epochs": 2, "min_lr_ratio": 0.0}
    assert saved_configs(old_optim, old_sched) == (optim, sched)
    assert saved_configs(None, {"name": "none"}) == (optim, {"schedule": None})
    assert per_epoch_lrs(*saved_configs(old_optim, old_sched), 9) == per_epoch_lrs(optim, sched, 9)


def test_a_per_step_schedule_spans_the_run_in_steps():
    """scheduler.interval=step: the warm-up and the cosine span count optimiser steps."""
    cfg = {
        "warmup_epochs": 1,
        "min_lr_ratio": 0.0,
        "interval": "step",
        "schedule": {"_target_": "torch.optim.lr_scheduler.CosineAnnealingLR", "_partial_": True},
    }
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    sched = build_scheduler(opt, cfg, max_epochs=3, steps_per_epoch=4)
    lrs = []
    for _ in range(12):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    assert lrs[:4] == pytest.approx([1 / 5, 2 / 5, 3 / 5, 4 / 5])  # warm-up over 4 steps
    assert lrs[4] == pytest.approx(1.0)
    assert lrs[4:] == pytest.approx([0.5 * (1 + math.cos(math.pi * i / 8)) for i in range(8)])
