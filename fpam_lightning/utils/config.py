"""Check the composed configuration before any data or model is built.

Each problem becomes one ConfigError naming the key, the bad value and the valid choices, which
the entry point prints as one line (exit code 2), seconds after start instead of minutes later
from deep inside Lightning. Unknown group options (backbone=foo) are caught by Hydra itself,
whose message lists the available options.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from omegaconf import DictConfig

from .errors import ConfigError

CONF_DIR = Path(__file__).resolve().parents[1] / "conf"  # shipped inside the package
LEVELS = (2, 3, 4, 5)
ATTENTIONS = ("fpam", "psa", "pca", "none")
OPTIMS = ("sgd", "adamw")
SCHEDULERS = ("step", "cosine", "none")
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


def _check_training(cfg: DictConfig, errors: list[str]) -> None:
    optim = cfg.get("optim") or {}
    if optim.get("name") not in OPTIMS:
        errors.append(f"optim.name={optim.get('name')!r}: choose one of {_choices(OPTIMS)}")
    lr = optim.get("lr")
    if not isinstance(lr, (int, float)) or isinstance(lr, bool) or not lr > 0:
        errors.append(f"optim.lr={lr!r} must be a positive number")
    sched = cfg.get("scheduler") or {}
    if sched.get("name") not in SCHEDULERS:
        errors.append(f"scheduler.name={sched.get('name')!r}: choose one of {_choices(SCHEDULERS)}")
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
    for check in (_check_data, _check_backbone, _check_attention, _check_training):
        check(cfg, errors)
    if errors:
        raise ConfigError("invalid configuration: " + "; ".join(errors))
