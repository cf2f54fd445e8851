"""DDP from a Hydra job: ranks 1..N-1 rerun exactly this job, in this job's folder.

Lightning's subprocess launcher starts the other ranks by re-running `sys.argv` with
`hydra.run.dir=<hydra.run.dir>`. Inside a multirun that command line is the whole sweep
(`-m data.fold=1,2,3`) and `hydra.run.dir` is not the job's folder, so the children start sweeps
of their own, hang waiting for each other, or write into new folders (Lightning issues #15689
and #18175, Hydra issue #2070). Under submitit or joblib, `sys.argv` is not even our script.

Here the children load the job's own composed config (`.hydra/config.yaml`, written by Hydra
before the job starts) with the job's output folder as their run folder, so every rank sees the
same config and writes into the same place. Ranks started outside Lightning (torchrun, srun)
are not affected.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

ENTRY = "fpam_lightning.train"
CHILD_CONFIG = "ddp_config.yaml"
# What Lightning's launcher puts into this process's environment when it starts children.
LAUNCH_ENV = ("MASTER_ADDR", "MASTER_PORT", "NODE_RANK", "LOCAL_RANK", "WORLD_SIZE")
_launched_children = False


def job_config_file(cfg: DictConfig, output_dir: Path) -> Path:
    """Hydra's saved job config, or (with hydra.output_subdir=null) a copy written here."""
    from hydra.core.hydra_config import HydraConfig

    subdir = HydraConfig.get().output_subdir
    saved = output_dir / str(subdir) / "config.yaml" if subdir else None
    if saved is not None and saved.exists():
        return saved
    path = output_dir / CHILD_CONFIG
    OmegaConf.save(cfg, path)
    return path


def child_command(config_file: Path, output_dir: Path, local_rank: int) -> list[str]:
    return [
        sys.executable,
        "-m",
        ENTRY,
        f"--config-path={config_file.parent.resolve()}",
        f"--config-name={config_file.stem}",
        f"hydra.run.dir='{output_dir.resolve()}'",
        f"hydra.job.name=train_ddp_process_{local_rank}",
        "hydra.output_subdir=null",
    ]


def use_job_config_for_ddp_children(cfg: DictConfig, output_dir: Path) -> None:
    """Make Lightning start DDP children on this job's config and folder (call before fit)."""
    from hydra.core.hydra_config import HydraConfig

    forget_previous_job()
    if not HydraConfig.initialized():
        return
    from .lightning_internals import set_ddp_child_command

    def hydra_subprocess_cmd(local_rank: int) -> tuple[Sequence[str], str]:
        global _launched_children
        _launched_children = True
        config_file = job_config_file(cfg, output_dir)
        return child_command(config_file, output_dir, local_rank), os.getcwd()

    set_ddp_child_command(hydra_subprocess_cmd)


def forget_previous_job() -> None:
    """In a multirun, a later DDP job in this process needs its own process group and port.

    Lightning leaves the previous job's group initialised and its rendezvous variables in the
    environment; the next job would reuse them and wait for children that have exited.
    """
    global _launched_children
    if not _launched_children:
        return  # ranks started by torchrun / srun: their environment is not ours to clear
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()
    for key in LAUNCH_ENV:
        os.environ.pop(key, None)
    _launched_children = False
