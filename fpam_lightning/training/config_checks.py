"""Check the composed configuration before any data or model is built.

Types are the schema's (utils/schema.py): Hydra enforces them as it composes, and each schema
states its ranges in `problems()`. The checks that span groups are here, in training, since they
ask what training builds: a fold against its data module, a clip against the STFT, the pyramid
levels against the backbone, the schedule against the run's length. Each problem becomes one
clause of one ConfigError naming the key, the bad value and the valid choices, which the entry
point prints as one line (exit code 2), seconds after start instead of minutes later from deep
inside Lightning. Unknown group options (backbone=foo) are caught by Hydra itself, whose
message lists the available options.
"""

from __future__ import annotations

import dataclasses
import inspect
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from ..models import LEVELS
from ..utils.conf import group_options, option_name
from ..utils.errors import ConfigError
from ..utils.schema import (
    choices,
    is_number,
    locate_class,
    positive_int,
    signature_problems,
    torch_partial_problems,
)

SCHEMA_NODES = ("model", "data", "features", "backbone", "scheduler", "augment", "ema", "eval")


def _num_folds(target: str) -> int | None:
    try:
        from hydra.utils import get_class

        return int(get_class(target).num_folds)
    except Exception:
        return None


def _check_fold(cfg: DictConfig, errors: list[str]) -> None:
    """The held-out fold against the folds of the data module the config names."""
    data = cfg.data
    num_folds = _num_folds(str(data._target_))
    if num_folds is None:
        errors.append(
            f"data._target_={data._target_!r} is not a data module; choose data=<one of "
            f"{choices(group_options('data'))}>"
        )
        return
    name = data.get("subset") or str(data._target_).rsplit(".", 1)[-1].replace("DataModule", "")
    fold = data.get("fold")
    if fold is None:  # the data module's own default
        return
    if not isinstance(fold, int) or isinstance(fold, bool):
        errors.append(f"data.fold={fold!r} must be a fold number: choose 1..{num_folds}")
    elif not 1 <= fold <= num_folds:
        errors.append(f"data.fold={fold} is out of range for {name}: choose 1..{num_folds}")


def _check_clip_frames(cfg: DictConfig, errors: list[str]) -> None:
    """A clip long enough for one STFT frame (data.clip_seconds against features.n_fft)."""
    clip, sr, n_fft = (
        cfg.data.get("clip_seconds"),
        cfg.features.get("sample_rate"),
        cfg.features.get("n_fft"),
    )
    if not (is_number(clip) and clip > 0 and all(is_number(v) and v > 0 for v in (sr, n_fft))):
        return  # reported by the data module's and the front end's problems()
    samples = int(round(clip * sr))
    if samples <= n_fft // 2:
        errors.append(
            f"data.clip_seconds={clip} gives {samples} samples at {sr} Hz, too short for one "
            f"STFT frame of features.n_fft={n_fft} (needs more than {n_fft // 2})"
        )


def _check_classes(cfg: DictConfig, errors: list[str], groups: tuple[str, ...]) -> None:
    """Each `_target_` node (the data module, the network's parts) against its class's
    signature, and its class's own `problems(**keys)` where it states them (a data module's
    ranges, a timm name, a weights file). The builder's wiring keys are models/classifier's."""
    from ..models.classifier import SUPPLIED, class_args

    for group in groups:
        node = OmegaConf.to_container(cfg[group], resolve=True)
        if "_target_" not in node:
            continue
        cls = locate_class(str(node["_target_"]))
        if cls is None:
            errors.append(f"{group}._target_={node['_target_']!r} is not an importable class")
            continue
        args = node if group == "data" else class_args(node, group)
        errors += signature_problems(cls, args, group, supplied=SUPPLIED.get(group, ()))
        if callable(getattr(cls, "problems", None)):  # the class's own ranges
            errors += cls.problems(**{k: v for k, v in args.items() if k != "_target_"})


def _check_attention(cfg: DictConfig, errors: list[str]) -> None:
    """The levels the head reads (the model builder's wiring key), among the backbone's."""
    levels = cfg.attention.get("levels")
    if levels is None:
        return
    try:
        levels = [int(lv) for lv in levels]
    except (TypeError, ValueError):
        errors.append(f"attention.levels={levels!r} must be a list of levels from {list(LEVELS)}")
        return
    bad = [lv for lv in levels if lv not in LEVELS]
    if not levels or bad:
        errors.append(
            f"attention.levels={levels}: {cfg.backbone.get('name')} has levels "
            f"{list(LEVELS)} (Res-2..Res-5); {bad or 'an empty list'} is not among them"
        )


def _check_optim(cfg: DictConfig, errors: list[str]) -> None:
    optim = OmegaConf.to_container(cfg.optim, resolve=True)
    errors += torch_partial_problems(optim, "optim", "optim", "optimiser")[0]
    lr = optim.get("lr")
    if not is_number(lr) or not lr > 0:
        errors.append(f"optim.lr={lr!r} must be a positive number")


def _check_schedule(cfg: DictConfig, errors: list[str]) -> None:
    """The torch schedule, and a finite run for the schedules that need its length."""
    from torch.optim.lr_scheduler import ReduceLROnPlateau, StepLR

    sched = cfg.scheduler
    if sched.schedule is None:
        return
    schedule = OmegaConf.to_container(sched.schedule, resolve=True)
    key, kind = "scheduler.schedule", "learning-rate scheduler"
    problems, cls = torch_partial_problems(schedule, key, "scheduler", kind, derived=("T_max",))
    errors += problems
    if cls is None:
        return
    if issubclass(cls, ReduceLROnPlateau):
        errors.append(f"{key}._target_={cls.__name__} steps on a metric: not supported here")
    if cfg.trainer.get("max_epochs") != -1:
        return
    warmup = sched.warmup_epochs if isinstance(sched.warmup_epochs, int) else 0
    spans_run = "T_max" in inspect.signature(cls).parameters and "T_max" not in schedule
    if spans_run or (warmup and issubclass(cls, StepLR)):
        name = option_name("scheduler") or cls.__name__
        what = f"scheduler={name}" + (" with warm-up" if warmup else "")
        errors.append(f"{what} needs a finite trainer.max_epochs, not -1")


def _check_run(cfg: DictConfig, errors: list[str]) -> None:
    max_epochs = cfg.trainer.get("max_epochs")
    if max_epochs != -1:
        errors += positive_int("trainer.max_epochs", max_epochs)
    ckpt = cfg.get("ckpt_path")
    if ckpt not in (None, "", "null", "last") and not Path(str(ckpt)).is_file():
        errors.append(f"ckpt_path={ckpt} is not a file (use a .ckpt path, `last` or null)")


def _ranges(node: DictConfig) -> list[str]:
    """The schema's range checks of a node composed from conf/. A DDP rank reads its job's saved
    config, which carries no schema: the job checked that very config before it started."""
    if dataclasses.is_dataclass(OmegaConf.get_type(node)):
        return OmegaConf.to_object(node).problems()
    return []


def validate(cfg: DictConfig) -> None:
    """Raise one ConfigError listing every problem found in `cfg`, or return None."""
    errors: list[str] = []
    for node in SCHEMA_NODES:  # each schema's ranges (utils/schema.py)
        errors += _ranges(cfg[node])
        if node == "data":
            _check_classes(cfg, errors, ("data",))
            _check_fold(cfg, errors)
        elif node == "features":
            _check_clip_frames(cfg, errors)
        elif node == "backbone":
            _check_classes(cfg, errors, ("features", "backbone", "attention"))
            _check_attention(cfg, errors)
            _check_optim(cfg, errors)
        elif node == "scheduler":
            _check_schedule(cfg, errors)
    _check_run(cfg, errors)
    errors += _ranges(cfg.debug)
    if errors:
        raise ConfigError("invalid configuration: " + "; ".join(errors))
