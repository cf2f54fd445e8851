"""Hyperparameter search with Hydra's Optuna sweeper (`hydra/sweeper=optuna`, extra `search`).

The objective is the last epoch's accuracy on an inner validation split of the training folds
(data.val=split, `val_acc` in results.json), never the held-out fold: a search that would
score trials on it is refused with one line, and a trial does not even test on that fold
(`training.run.held_out_scores`), so no held-out number exists for anyone to pick from.
`SearchCallback` (a Hydra callback, set by the search experiments) refuses before the study is
created, makes the sweep folder so the study can live there in SQLite, and when the search ends
writes the best trial as an experiment file.
Jobs check again (`refuse_test_fold_search`), for a search composed without the callback.
"""

from __future__ import annotations

import logging
import re
import sys
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf

from ..utils.cli import USER_ERROR_EXIT_CODE, print_error
from ..utils.conf import CONF_DIR
from ..utils.schema import VAL_MODES

log = logging.getLogger("fpam_lightning")

OPTUNA_SWEEPER = "OptunaSweeper"  # the class hydra/sweeper=optuna instantiates
BEST_FILE = "best_experiment.yaml"


def is_search() -> bool:
    """True inside a job of an Optuna sweep."""
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    if not HydraConfig.initialized():
        return False
    hc = HydraConfig.get()
    return hc.mode == RunMode.MULTIRUN and is_optuna(hc.sweeper)


def is_optuna(sweeper: Any) -> bool:
    """True for the config of Hydra's Optuna sweeper (hydra.sweeper)."""
    return str((sweeper or {}).get("_target_", "")).endswith(OPTUNA_SWEEPER)


def reads_test_fold(val_mode: Any) -> str | None:
    """Why a search with this data.val would read the held-out fold, or None."""
    if val_mode == "split":
        return None
    if val_mode == "none":
        return (
            "a hyperparameter search needs a validation split to score trials (data.val=none "
            "has none): use data.val=split, an inner validation split of the training folds"
        )
    return (
        f"a hyperparameter search must not score trials on the held-out fold (data.val="
        f"{val_mode}): use data.val=split, an inner validation split of the training folds"
    )


def refuse(message: str) -> None:
    """One `error:` line and exit code 2, through the sweeper and launcher (SystemExit)."""
    print_error(message)
    sys.exit(USER_ERROR_EXIT_CODE)


def refuse_test_fold_search(cfg: DictConfig) -> None:
    """In a job: stop the whole search when its trials would be scored on the test fold."""
    if is_search():
        problem = reads_test_fold((cfg.get("data") or {}).get("val"))
        if problem:
            refuse(problem)


def objective(results: dict[str, Any] | None) -> float:
    """A trial's value: val_acc. A failed trial scores 0.0, because optuna 2.10 ends the
    whole search on a value that is not a number; its results.json says `failed`."""
    value = (results or {}).get("val_acc")
    if value is None:
        log.warning("this trial has no inner-split accuracy: it scores 0.0 in the search")
        return 0.0
    return float(value)


class SearchCallback(Callback):
    """Hydra callback of the search experiments (`hydra.callbacks.search`).

    `base` is the experiment the search tunes and `name` the experiment the best trial's file
    declares: <sweep dir>/experiment/<name>.yaml, `base` plus the best trial's values.
    """

    def __init__(self, base: str, name: str):
        self.base, self.name = base, name

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        if not is_optuna(config.hydra.sweeper):
            return
        params = config.hydra.sweeper.get("params") or {}
        val_modes = {str(config.data.get("val"))}
        if "data.val" in params:  # a searched or fixed data.val: any mode it names
            val_modes = set(re.findall(r"\w+", str(params["data.val"]))) & {*VAL_MODES}
        for mode in sorted(val_modes):
            problem = reads_test_fold(mode)
            if problem:
                refuse(problem)
        Path(str(config.hydra.sweep.dir)).mkdir(parents=True, exist_ok=True)  # for SQLite

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        if not is_optuna(config.hydra.sweeper) or not config.hydra.sweeper.get("storage"):
            return
        import optuna

        sweeper = config.hydra.sweeper
        study = optuna.load_study(study_name=sweeper.study_name, storage=sweeper.storage)
        if not any(t.state.name == "COMPLETE" for t in study.trials):
            return
        sweep_dir = Path(str(config.hydra.sweep.dir))
        path = write_best_experiment(study, self.base, self.name, sweep_dir, sweeper.storage)
        log.info("best trial as an experiment: %s", path)


def best_experiment(params: dict[str, Any], base: str, name: str) -> dict[str, Any]:
    """The experiment config: `base`, then the best values (group choices as overrides)."""
    overrides, values = [], {}
    for key, value in params.items():
        key = key.lstrip("+")
        if "." not in key and (CONF_DIR / key).is_dir():  # a config group: optim=adamw
            overrides.append({f"override /{key}": value})
        else:
            values[key] = value
    body = OmegaConf.create({"defaults": [base, *overrides, "_self_"], "experiment": name})
    for key, value in values.items():
        OmegaConf.update(body, key, value, force_add=True)
    return OmegaConf.to_container(body)


def _command_line(fixed: dict[str, Any]) -> str:
    """The search's own overrides (the sweeper stores them on each trial), less the search's."""
    skip = ("+experiment", "experiment", "data.fold", "data.val")
    return " ".join(f"{k}={v}" for k, v in fixed.items() if k not in skip)


def write_best_experiment(study: Any, base: str, name: str, sweep_dir: Path, storage: str) -> Path:
    """<sweep_dir>/experiment/<name>.yaml (usable as it is) and a copy as best_experiment.yaml."""
    best = study.best_trial
    header = [
        "# @package _global_",
        f"# The best trial of Optuna study {study.study_name!r} ({storage}): trial "
        f"{best.number} of {len(study.trials)},",
        f"# inner-split accuracy {best.value:.4f}. It ran with data.val=split; this recipe "
        f"keeps {base}'s data.val.",
        f"# The search's command line also set: {_command_line(best.user_attrs) or 'nothing'}",
        "# Run it on every fold, scored on the held-out folds:",
        f"#   python -m fpam_lightning.train -m +experiment={name} "
        f"'hydra.searchpath=[file://{sweep_dir.resolve()}]'",
        f"# or copy this file to fpam_lightning/conf/experiment/{name}.yaml.",
    ]
    text = "\n".join(header) + "\n" + OmegaConf.to_yaml(best_experiment(best.params, base, name))
    path = sweep_dir / "experiment" / f"{name}.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    (sweep_dir / BEST_FILE).write_text(text)
    return path
