"""Experiment loggers. W&B is offline by default: no account, no network, no prompt.

Every job of a sweep gets its own run in its own output folder, all sharing one `group` (the
sweep), named after its configuration and fold, so runs never overwrite each other.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from lightning.pytorch.loggers import CSVLogger, Logger, WandbLogger
from omegaconf import DictConfig, OmegaConf

from ..utils.io import write_text_atomic

RUN_ID_FILE = "wandb_run_id.txt"


def run_name(cfg: DictConfig, dataset: str) -> str:
    mix = "mixup" if cfg.mixup.get("enabled") else "nomix"
    return (
        f"{cfg.experiment}-{dataset}-{cfg.backbone.name}-"
        f"{cfg.attention.name}-{cfg.model.variant}-{mix}-fold{cfg.data.fold}-seed{cfg.seed}"
    )


def group_name(experiment: str, folder: Path) -> str:
    """`<experiment>/<sweep or run folder name>`: the W&B group, also used by the summary run."""
    return f"{experiment}/{Path(folder).name}"


def sweep_group(cfg: DictConfig, output_dir: Path) -> str:
    """The sweep folder for a multirun job, else the run folder: shared by a sweep's jobs."""
    try:
        from hydra.core.hydra_config import HydraConfig
        from hydra.types import RunMode

        hc = HydraConfig.get()
        if hc.mode == RunMode.MULTIRUN:
            return group_name(str(cfg.experiment), Path(hc.sweep.dir))
    except ValueError:
        pass
    return group_name(str(cfg.experiment), output_dir)


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


def build_loggers(cfg: DictConfig, output_dir: Path, dataset: str) -> list[Logger]:
    loggers: list[Logger] = []
    lcfg = cfg.get("logger") or {}
    if lcfg.get("wandb"):
        w = lcfg.wandb
        id_file = output_dir / RUN_ID_FILE
        run_id = id_file.read_text().strip() if id_file.exists() else None
        logger = WandbLogger(
            project=w.project,
            entity=w.get("entity"),
            name=run_name(cfg, dataset),
            group=w.get("group") or sweep_group(cfg, output_dir),
            tags=[str(cfg.experiment), *list(w.get("tags") or [])],
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
