"""The optimiser and the per-epoch learning-rate schedule, instantiated from `optim`/`scheduler`.

`optim` and `scheduler.schedule` each name a torch class as a Hydra partial (`_target_`,
`_partial_: true`) with its own keyword arguments only. Beside the schedule, `scheduler` holds
the keys read here:

- `scheduler.warmup_epochs`: when > 0, a LinearLR warm-up from lr/(warmup+1) to lr over that
  many epochs, then the main schedule (SequentialLR).
- `scheduler.min_lr_ratio`: the schedule's floor as a fraction of optim.lr (CosineAnnealingLR's
  eta_min). A cosine schedule spans the epochs after the warm-up (T_max), unless set.
- `scheduler.interval`: `epoch` (step the schedule after each epoch) or `step` (after each
  optimiser step). The warm-up and the derived T_max are converted to steps; the torch class's
  own arguments (step_size, T_max when set) count intervals.

The modules' saved hyperparameters keep these configs as plain dicts of strings and numbers, so
checkpoints still load with `weights_only=True`.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterable
from typing import Any

import torch
from hydra.utils import instantiate
from omegaconf import OmegaConf
from torch.optim.lr_scheduler import LinearLR, LRScheduler, MultiStepLR, SequentialLR, StepLR

from ..utils.conf import CONF_DIR
from ..utils.schema import Scheduler, filled

NO_SCHEDULE: dict[str, Any] = {"schedule": None}  # conf/scheduler/none.yaml


def default_optim() -> dict[str, Any]:
    """train.yaml's optimiser (conf/optim/sgd.yaml), for a module built without one."""
    return OmegaConf.to_container(OmegaConf.load(CONF_DIR / "optim" / "sgd.yaml"))


def saved_configs(
    optim: dict[str, Any] | None, scheduler: dict[str, Any] | None
) -> tuple[dict[str, Any], dict[str, Any]]:
    """`optim` and `scheduler` as built here, also from checkpoints written before the schema:
    those carry a `name` label in both, and the torch schedule's keys beside the project's."""
    optim = {k: v for k, v in (optim or default_optim()).items() if k != "name"}
    scheduler = dict(scheduler or NO_SCHEDULE)
    scheduler.pop("name", None)
    if "schedule" not in scheduler:
        own = ("warmup_epochs", "min_lr_ratio", "interval")
        schedule = {k: v for k, v in scheduler.items() if k not in own}
        scheduler = {k: scheduler[k] for k in own if k in scheduler}
        scheduler["schedule"] = schedule if schedule.get("_target_") else None
        if scheduler["schedule"]:
            scheduler["interval"] = "epoch"  # every schedule stepped per epoch then
    return optim, scheduler


def build_optimizer(params: Iterable[torch.nn.Parameter], cfg: dict[str, Any]):
    return instantiate(cfg)(params)


def build_scheduler(
    optimizer: torch.optim.Optimizer,
    cfg: dict[str, Any],
    max_epochs: int,
    steps_per_epoch: int = 1,
) -> LRScheduler | None:
    """The schedule, stepped per `interval`, or None for a constant learning rate."""
    if not cfg.get("schedule"):
        return None
    cfg = filled(Scheduler, cfg)
    unit = int(steps_per_epoch) if cfg["interval"] == "step" else 1
    warmup = int(cfg["warmup_epochs"] or 0) * unit
    max_epochs = int(max_epochs) * unit if int(max_epochs) > 0 else int(max_epochs)
    main = instantiate(cfg["schedule"])
    extra: dict[str, Any] = {}
    args = inspect.signature(main.func).parameters
    if "T_max" in args and "T_max" not in main.keywords:
        extra["T_max"] = max(1, int(max_epochs) - warmup)
    if cfg["min_lr_ratio"] is not None and "eta_min" in args:
        extra["eta_min"] = float(cfg["min_lr_ratio"]) * optimizer.defaults["lr"]
    if warmup <= 0:
        return main(optimizer, **extra)
    if main.func is StepLR:
        main = _decays_after_warmup(main.keywords, warmup, max_epochs)
    warm = LinearLR(optimizer, start_factor=1 / (warmup + 1), end_factor=1.0, total_iters=warmup)
    return SequentialLR(optimizer, [warm, main(optimizer, **extra)], milestones=[warmup])


def _decays_after_warmup(step: dict[str, Any], warmup: int, max_epochs: int):
    """StepLR's decays stay at epochs step_size, 2 x step_size, ... of the whole run.

    SequentialLR restarts the main schedule's epoch count at the end of the warm-up: right for
    a cosine spanning the remaining epochs, wrong for the paper's fixed decay epochs. So after a
    warm-up the step schedule becomes a MultiStepLR at those epochs, counted from the warm-up's
    end (decays due during the warm-up all apply when it ends).
    """
    if int(max_epochs) <= 0:
        raise ValueError("scheduler=step with warmup_epochs > 0 needs a finite trainer.max_epochs")
    size, gamma = int(step["step_size"]), float(step.get("gamma", 0.1))
    milestones = [max(0, e - warmup) for e in range(size, int(max_epochs), size)]
    return lambda optimizer: MultiStepLR(optimizer, milestones, gamma=gamma)
