"""Check the composed configuration before any data or model is built.

Each problem becomes one ConfigError naming the key, the bad value and the valid choices, which
the entry point prints as one line (exit code 2), seconds after start instead of minutes later
from deep inside Lightning. Unknown group options (backbone=foo) are caught by Hydra itself,
whose message lists the available options.
"""

from __future__ import annotations

import difflib
import importlib
import inspect
from collections.abc import Sequence
from functools import cache
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from ..models.choices import ATTENTIONS, LEVELS
from .errors import ConfigError

CONF_DIR = Path(__file__).resolve().parents[1] / "conf"  # shipped inside the package
# Keys of the optim/scheduler configs that training/optim.py reads instead of passing to torch.
OWN_KEYS = {"optim": ("name",), "scheduler": ("name", "warmup_epochs", "min_lr_ratio")}
HYDRA_KEYS = ("_target_", "_partial_")
VAL_MODES = ("test_fold", "split", "none")
BAD_FILE_MODES = ("error", "skip")


def compose(config_name: str = "train", overrides: Sequence[str] = (), **kw: Any) -> DictConfig:
    """Compose a shipped config (`train`, `evaluate`, `export`) as its command line would."""
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        return hydra_compose(config_name=config_name, overrides=list(overrides), **kw)


def group_options(group: str) -> list[str]:
    """The option names of a config group, from the files in conf/<group>/."""
    return sorted(p.stem for p in (CONF_DIR / group).glob("*.yaml"))


def _choices(values) -> str:
    return ", ".join(str(v) for v in values)


def _check_positive_int(errors: list[str], key: str, value, allow_none: bool = False) -> None:
    if value is None and allow_none:
        return
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        errors.append(f"{key}={value!r} must be a positive integer")


def _num_folds(target: str) -> int | None:
    try:
        from hydra.utils import get_class

        return int(get_class(target).num_folds)
    except Exception:
        return None


def _check_data(cfg: DictConfig, errors: list[str]) -> None:
    data = cfg.get("data")
    if data is None or "_target_" not in data:
        errors.append(f"no data set chosen: use data=<one of {_choices(group_options('data'))}>")
        return
    num_folds = _num_folds(str(data._target_))
    name = data.get("subset") or str(data._target_).rsplit(".", 1)[-1].replace("DataModule", "")
    if num_folds is None:
        errors.append(
            f"data._target_={data._target_!r} is not a data module; choose data=<one of "
            f"{_choices(group_options('data'))}>"
        )
    fold = data.get("fold")
    if isinstance(fold, bool) or not isinstance(fold, int):
        errors.append(f"data.fold={fold!r} must be an integer fold number")
    elif num_folds is not None and not 1 <= fold <= num_folds:
        errors.append(f"data.fold={fold} is out of range for {name}: choose 1..{num_folds}")
    _check_positive_int(errors, "data.batch_size", data.get("batch_size"))
    _check_positive_int(errors, "data.eval_batch_size", data.get("eval_batch_size"), True)
    workers = data.get("num_workers", 0)
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 0:
        errors.append(f"data.num_workers={workers!r} must be 0 or a positive integer")
    if data.get("val", "test_fold") not in VAL_MODES:
        errors.append(f"data.val={data.get('val')!r}: choose one of {_choices(VAL_MODES)}")
    if data.get("on_bad_file", "error") not in BAD_FILE_MODES:
        errors.append(
            f"data.on_bad_file={data.get('on_bad_file')!r}: choose one of "
            f"{_choices(BAD_FILE_MODES)}"
        )
    frac = data.get("val_fraction", 0.1)
    if data.get("val") == "split" and not (isinstance(frac, (int, float)) and 0 < frac < 1):
        errors.append(f"data.val_fraction={frac!r} must be between 0 and 1 with data.val=split")
    clip, cached = data.get("clip_seconds"), data.get("cache_seconds")
    if not (_number(clip) and clip > 0):
        errors.append(f"data.clip_seconds={clip!r} must be a positive number of seconds")
    elif cached is not None and not (_number(cached) and cached >= clip):
        errors.append(
            f"data.cache_seconds={cached!r} must be null or at least data.clip_seconds={clip}"
        )


def _check_features(cfg: DictConfig, errors: list[str]) -> None:
    """The log-mel front end: sizes, band edges and a clip long enough for one STFT frame."""
    f = cfg.get("features") or {}
    for key in ("sample_rate", "n_fft", "hop_length", "n_mels"):
        _check_positive_int(errors, f"features.{key}", f.get(key))
    _check_positive_int(errors, "features.win_length", f.get("win_length"), allow_none=True)
    sr, n_fft, win = f.get("sample_rate"), f.get("n_fft"), f.get("win_length")
    if all(isinstance(v, int) and v > 0 for v in (n_fft, win)) and win > n_fft:
        errors.append(f"features.win_length={win} must not exceed features.n_fft={n_fft}")
    power = f.get("power", 2.0)
    if not (_number(power) and power > 0):
        errors.append(f"features.power={power!r} must be positive (2: power, 1: magnitude)")
    if not (isinstance(sr, int) and not isinstance(sr, bool) and sr > 0):
        return  # the band edges and the clip length are measured against it
    f_min, f_max = f.get("f_min", 0.0), f.get("f_max")
    top = f_max if f_max is not None else sr / 2
    if not (_number(f_min) and f_min >= 0):
        errors.append(f"features.f_min={f_min!r} must be 0 or a positive frequency (Hz)")
    elif not (_number(top) and f_min < top <= sr / 2):
        errors.append(
            f"features.f_max={f_max!r} must be above features.f_min={f_min} and at most half "
            f"features.sample_rate={sr} ({sr / 2:g} Hz), or null"
        )
    clip = (cfg.get("data") or {}).get("clip_seconds")
    if _number(clip) and clip > 0 and isinstance(n_fft, int) and n_fft > 0:
        samples = int(round(clip * sr))
        if samples <= n_fft // 2:
            errors.append(
                f"data.clip_seconds={clip} gives {samples} samples at {sr} Hz, too short for one "
                f"STFT frame of features.n_fft={n_fft} (needs more than {n_fft // 2})"
            )


def _check_backbone(cfg: DictConfig, errors: list[str]) -> None:
    bb = cfg.get("backbone") or {}
    name = bb.get("name")
    if name != "tutorial_cnn":
        import timm

        if not isinstance(name, str) or not timm.is_model(name):
            near = difflib.get_close_matches(str(name), timm.list_models(), n=5, cutoff=0.6)
            hint = f"; did you mean {_choices(near)}?" if near else ""
            errors.append(
                f"backbone.name={name!r} is not a timm model (timm.list_models() lists "
                f"them; configs: {_choices(group_options('backbone'))}){hint}"
            )
    ckpt = bb.get("checkpoint")
    if ckpt and not Path(str(ckpt)).is_file():
        errors.append(f"backbone.checkpoint={ckpt} is not a file")


def _check_attention(cfg: DictConfig, errors: list[str]) -> None:
    att = cfg.get("attention") or {}
    name = att.get("name")
    if name not in ATTENTIONS:
        errors.append(f"attention.name={name!r}: choose one of {_choices(ATTENTIONS)}")
        return
    if name == "none":
        return
    levels = att.get("levels")
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
    _check_positive_int(errors, "attention.channels", att.get("channels"))


def _number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


@cache
def _shipped(group: str) -> dict[str, str | None]:
    """{option name: its `_target_`} for the shipped options of conf/<group>/ (None: no class)."""
    out = {}
    for option in group_options(group):
        node = OmegaConf.load(CONF_DIR / group / f"{option}.yaml")
        out[str(node.get("name", option))] = node.get("_target_")
    return out


@cache
def _torch_classes(group: str) -> tuple[str, ...]:
    """The importable torch classes an optim/scheduler config may name (for suggestions)."""
    import torch

    module, base = (
        (torch.optim, torch.optim.Optimizer)
        if group == "optim"
        else (torch.optim.lr_scheduler, torch.optim.lr_scheduler.LRScheduler)
    )
    return tuple(
        f"{module.__name__}.{n}"
        for n, c in vars(module).items()
        if isinstance(c, type) and issubclass(c, base) and c is not base and not n.startswith("_")
    )


def _locate_class(path: str) -> type | None:
    """The class at a dotted path, or None (quietly: Hydra's own lookup logs its failures)."""
    module, _, name = path.rpartition(".")
    try:
        found = getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError, ValueError):
        return None
    return found if isinstance(found, type) else None


def _check_torch_partial(
    cfg: DictConfig, group: str, errors: list[str], derived: Sequence[str] = ()
) -> type | None:
    """`optim`/`scheduler`: a torch class as a Hydra partial, its label and its arguments.

    Returns the class when it resolves (None for no class: scheduler=none), for further checks.
    """
    import torch

    node = cfg.get(group) or {}
    target, label = node.get("_target_"), node.get("name")
    options = _shipped(group)
    choose = f"choose with {group}=<one of {_choices(sorted(options))}>"
    cls = None
    if target is None and group == "optim":
        errors.append(f"optim._target_ is missing: {choose}")
        return None
    if target is not None:
        base = torch.optim.Optimizer if group == "optim" else torch.optim.lr_scheduler.LRScheduler
        cls = _locate_class(str(target))
        if cls is None or not issubclass(cls, base) or cls is base:
            classes = {path.rsplit(".", 1)[-1]: path for path in _torch_classes(group)}
            near = difflib.get_close_matches(str(target).rsplit(".", 1)[-1], classes, n=1)
            near = [classes[n] for n in near]
            hint = f"; did you mean {_choices(near)}?" if near else ""
            kind = "optimiser" if group == "optim" else "learning-rate scheduler"
            errors.append(f"{group}._target_={target!r} is not a torch {kind}: {choose}{hint}")
            return None
    labels = {t: name for name, t in options.items()}
    if target in labels and label != labels[target]:
        what = f"{group}._target_={target}" if target else f"no {group}._target_"
        errors.append(
            f"{group}.name={label!r} does not match {what} (the {labels[target]} option): "
            f"{choose}; {group}.name only labels it"
        )
        return None
    if label in options and target != options[label]:
        errors.append(
            f"{group}.name={label!r} labels {options[label] or 'no class'}, not {target}: {choose}"
        )
        return None
    if not isinstance(label, str) or not label:
        errors.append(f"{group}.name={label!r} must be a label (a non-empty string)")
    if cls is None:
        return None
    if node.get("_partial_") is not True:
        first = "parameters" if group == "optim" else "optimizer"
        errors.append(f"{group}._partial_ must be true (training passes the {first} later)")
    _check_arguments(cls, node, group, target, errors, derived)
    return cls


def _check_arguments(
    cls: type, node: Any, group: str, target: Any, errors: list[str], derived: Sequence[str]
) -> None:
    """Every configured key is an argument of `cls`, and every required argument is given."""
    params = list(inspect.signature(cls).parameters.values())[1:]  # after params / optimizer
    if any(p.kind is p.VAR_KEYWORD for p in params):
        return
    names = [p.name for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
    given = [k for k in node if k not in (*HYDRA_KEYS, *OWN_KEYS[group])]
    unknown = [k for k in given if k not in names]
    if unknown:
        near = [m for k in unknown for m in difflib.get_close_matches(k, names, n=1)]
        hint = f"; did you mean {_choices(near)}?" if near else ""
        errors.append(
            f"{_choices(f'{group}.{k}' for k in unknown)} "
            f"{'is not an argument' if len(unknown) == 1 else 'are not arguments'} of {target} "
            f"(its arguments: {_choices(names)}){hint}"
        )
    for p in params:
        if p.name in names and p.default is p.empty and p.name not in (*given, *derived):
            errors.append(f"{target} needs {group}.{p.name}")


def _check_optim(cfg: DictConfig, errors: list[str]) -> None:
    _check_torch_partial(cfg, "optim", errors)
    lr = (cfg.get("optim") or {}).get("lr")
    if not _number(lr) or not lr > 0:
        errors.append(f"optim.lr={lr!r} must be a positive number")


def _check_scheduler(cfg: DictConfig, errors: list[str]) -> None:
    """The schedule, and the keys training/optim.py reads: warm-up, floor, a finite run."""
    from torch.optim.lr_scheduler import ReduceLROnPlateau, StepLR

    sched = cfg.get("scheduler") or {}
    cls = _check_torch_partial(cfg, "scheduler", errors, derived=("T_max",))
    warmup = sched.get("warmup_epochs", 0)
    if isinstance(warmup, bool) or not isinstance(warmup, int) or warmup < 0:
        errors.append(f"scheduler.warmup_epochs={warmup!r} must be 0 or a positive integer")
        warmup = 0
    floor = sched.get("min_lr_ratio", 0.0)
    if floor is not None and not (_number(floor) and 0 <= floor <= 1):
        errors.append(f"scheduler.min_lr_ratio={floor!r} must be between 0 and 1")
    if "step_size" in sched:
        _check_positive_int(errors, "scheduler.step_size", sched.get("step_size"))
    if "gamma" in sched and not (_number(sched.get("gamma")) and sched.get("gamma") > 0):
        errors.append(f"scheduler.gamma={sched.get('gamma')!r} must be a positive number")
    if cls is None:
        return
    if issubclass(cls, ReduceLROnPlateau):
        errors.append(f"scheduler._target_={cls.__name__} steps on a metric: not supported here")
    if (cfg.get("trainer") or {}).get("max_epochs") != -1:
        return
    spans_run = "T_max" in inspect.signature(cls).parameters and "T_max" not in sched
    if spans_run or (warmup and issubclass(cls, StepLR)):
        what = f"scheduler={sched.get('name')}" + (" with warm-up" if warmup else "")
        errors.append(f"{what} needs a finite trainer.max_epochs, not -1")


def _check_augment(cfg: DictConfig, errors: list[str]) -> None:
    aug = cfg.get("augment") or {}
    p = aug.get("time_flip", 0.0)
    if not (_number(p) and 0 <= p <= 1):
        errors.append(f"augment.time_flip={p!r} must be a probability between 0 and 1")
    for key in ("freq_mask", "time_mask", "num_masks"):
        v = aug.get(key, 0)
        if isinstance(v, bool) or not isinstance(v, int) or v < 0:
            errors.append(f"augment.{key}={v!r} must be 0 or a positive integer")


def _check_recipe(cfg: DictConfig, errors: list[str]) -> None:
    """The waveform transforms, the weight average (ema) and test-time crops (eval)."""
    aug, ema = cfg.get("augment") or {}, cfg.get("ema") or {}
    bounds = {"time_shift": (0, 1), "gain_db": (0, 60), "background": (0, 1)}
    for key, (low, high) in bounds.items():
        v = aug.get(key, 0.0)
        if not (_number(v) and low <= v <= high):
            errors.append(f"augment.{key}={v!r} must be a number from {low} to {high}")
    snr = aug.get("background_snr_db", [0.0, 20.0])
    pair = list(snr) if OmegaConf.is_list(snr) or isinstance(snr, (list, tuple)) else []
    if not (len(pair) == 2 and all(_number(v) for v in pair) and pair[0] <= pair[1]):
        errors.append(f"augment.background_snr_db={snr!r} must be [low, high] in dB, low <= high")
    if not isinstance(ema.get("enabled", False), bool):
        errors.append(f"ema.enabled={ema.get('enabled')!r} must be true or false")
    decay = ema.get("decay", 0.999)
    if not (_number(decay) and 0 < decay < 1):
        errors.append(f"ema.decay={decay!r} must be between 0 and 1 (e.g. 0.999)")
    _check_positive_int(errors, "eval.tta_crops", (cfg.get("eval") or {}).get("tta_crops", 1))


def _check_training(cfg: DictConfig, errors: list[str]) -> None:
    trainer = cfg.get("trainer") or {}
    max_epochs = trainer.get("max_epochs")
    if max_epochs != -1:
        _check_positive_int(errors, "trainer.max_epochs", max_epochs)
    ckpt = cfg.get("ckpt_path")
    if ckpt not in (None, "", "null", "last") and not Path(str(ckpt)).is_file():
        errors.append(f"ckpt_path={ckpt} is not a file (use a .ckpt path, `last` or null)")
    nan_step = (cfg.get("debug") or {}).get("nan_at_step")
    if nan_step is not None and (not isinstance(nan_step, int) or nan_step < 0):
        errors.append(f"debug.nan_at_step={nan_step!r} must be null or a step number >= 0")


def validate(cfg: DictConfig) -> None:
    """Raise one ConfigError listing every problem found in `cfg`, or return None."""
    errors: list[str] = []
    variant = (cfg.get("model") or {}).get("variant")
    if variant not in ("paper", "authors"):
        errors.append(f"model.variant={variant!r}: choose one of paper, authors")
    checks = (_check_data, _check_features, _check_backbone, _check_attention, _check_optim)
    for check in (*checks, _check_scheduler, _check_augment, _check_recipe, _check_training):
        check(cfg, errors)
    if errors:
        raise ConfigError("invalid configuration: " + "; ".join(errors))
