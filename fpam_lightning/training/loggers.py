"""Experiment loggers. W&B is offline by default: no account, no network, no prompt.

Every job of a sweep gets its own run in its own output folder, all sharing one `group` (the
sweep), named after its configuration and fold, so runs never overwrite each other.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from lightning.pytorch.loggers import CSVLogger, Logger, WandbLogger
from omegaconf import DictConfig, OmegaConf

from ..models import component_name
from ..utils.io import write_text_atomic

RUN_ID_FILE = "wandb_run_id.txt"


def run_name(experiment: str, dataset: str, fold: int, hparams: Mapping[str, Any]) -> str:
    """`<experiment>-<data>-<backbone>-<head>-<variant>-<mixup>-fold<k>-seed<s>`, from the data
    set and the module's hyperparameters (training/build.py, `module_hparams`)."""
    net = hparams["net"]
    mix = "mixup" if (hparams.get("mixup") or {}).get("enabled") else "nomix"
    return (
        f"{experiment}-{dataset}-{component_name(net['backbone'])}-"
        f"{component_name(net['attention'])}-"
        f"{net['model']['variant']}-{mix}-fold{fold}-seed{hparams['seed']}"
    )


def group_name(experiment: str, folder: Path) -> str:
    """`<experiment>/<sweep or run folder name>`: the W&B group, also used by the summary run."""
    return f"{experiment}/{Path(folder).name}"


def sweep_group(experiment: str, output_dir: Path) -> str:
    """The sweep folder for a multirun job, else the run folder: shared by a sweep's jobs."""
    try:
        from hydra.core.hydra_config import HydraConfig
        from hydra.types import RunMode

        hc = HydraConfig.get()
        if hc.mode == RunMode.MULTIRUN:
            return group_name(experiment, Path(hc.sweep.dir))
    except ValueError:
        pass
    return group_name(experiment, output_dir)


def job_overrides() -> dict[str, object]:
    """The job's command-line and sweep overrides (its configuration and fold), for the config."""
    try:
        from hydra.core.hydra_config import HydraConfig
        from hydra.types import RunMode

        hc = HydraConfig.get()
        multirun = hc.mode == RunMode.MULTIRUN
        return {
            "overrides": list(hc.overrides.task),
            "num": hc.job.get("num"),
            "sweep_dir": str(hc.sweep.dir) if multirun else None,
        }
    except ValueError:
        return {}


def wandb_offline(requested: bool) -> bool:
    """Offline unless the user asks for online, by config or by WANDB_MODE=online."""
    mode = os.environ.get("WANDB_MODE", "").lower()
    if mode == "online":
        return False
    if mode in ("offline", "disabled", "dryrun"):
        return True
    return bool(requested)


def open_wandb_run(
    w: DictConfig,
    *,
    job_type: str,
    name: str,
    group: str,
    tags: Sequence[str],
    dir: str | Path,
    config: dict[str, Any] | None = None,
):
    """A new W&B run beside the training runs: same project and entity, in `w.group` when it is
    set (else `group`), tagged with `tags` and `w.tags`, offline unless asked (`wandb_offline`).

    `w` is the `logger.wandb` config. For the analysis runs (evaluate, the sweep summary); the
    training runs go through Lightning's WandbLogger (`build_loggers`).
    """
    import wandb

    return wandb.init(
        project=w.project,
        entity=w.get("entity"),
        group=w.get("group") or group,
        tags=list(dict.fromkeys([*map(str, tags), *map(str, w.get("tags") or [])])),
        job_type=job_type,
        name=name,
        dir=str(dir),
        mode="offline" if wandb_offline(w.get("offline", True)) else "online",
        config=config,
        reinit="create_new",
    )


def build_loggers(
    lcfg: DictConfig | None, output_dir: Path, name: str, experiment: str
) -> list[Logger]:
    """The `logger` node's loggers; the W&B run is `name`, tagged and grouped by `experiment`."""
    loggers: list[Logger] = []
    lcfg = lcfg or {}
    if lcfg.get("wandb"):
        w = lcfg.wandb
        id_file = output_dir / RUN_ID_FILE
        run_id = id_file.read_text().strip() if id_file.exists() else None
        logger = WandbLogger(
            project=w.project,
            entity=w.get("entity"),
            name=name,
            group=w.get("group") or sweep_group(experiment, output_dir),
            tags=[experiment, *list(w.get("tags") or [])],
            save_dir=str(output_dir),
            offline=wandb_offline(w.get("offline", True)),
            log_model=bool(w.get("log_model", False)),
            id=run_id,
            resume="allow" if run_id else None,
            job_type=w.get("job_type", "train"),
        )
        loggers.append(logger)
    if lcfg.get("csv"):
        loggers.append(CSVLogger(save_dir=str(output_dir), name="csv", version=""))
    return loggers


def log_config(loggers: list[Logger], cfg: DictConfig) -> None:
    resolved = OmegaConf.to_container(cfg, resolve=True)
    resolved["hydra_job"] = job_overrides()
    for logger in loggers:
        logger.log_hyperparams(resolved)


def remember_wandb_run(loggers: list[Logger], output_dir: Path) -> str | None:
    """Store the W&B run id beside the checkpoints so a resumed job continues the same run."""
    for logger in loggers:
        if isinstance(logger, WandbLogger):
            run_id = logger.experiment.id
            if isinstance(run_id, str):
                write_text_atomic(output_dir / RUN_ID_FILE, run_id)
                return run_id
    return None
