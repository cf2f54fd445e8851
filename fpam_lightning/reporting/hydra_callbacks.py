"""The Hydra callbacks of the commands (conf/hydra/default.yaml): how a run and a multirun end.

`CommandExit` refuses an unwritable run or sweep folder in one line, and turns failed jobs into
the multirun's exit code and last line (`utils.cli` owns the codes). `CVSummaryCallback` writes
the cross-validation summary into the sweep folder (and W&B) when a multirun ends.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Any

from omegaconf import DictConfig

from ..stats.markdown import to_markdown
from ..stats.runs import collect_jobs
from ..utils.cli import SWEEP_FAILED_EXIT_CODE, check_writable, finish_wandb, print_error
from ..utils.reruns import rerun_command
from .cv_report import SUMMARY_MD, summarize
from .wandb_summary import log_summary_to_wandb

log = logging.getLogger("fpam_lightning")


def sweep_failures(sweep_dir: str | Path) -> str | None:
    """One line on the failed jobs under a sweep folder, or None when none failed."""
    jobs = collect_jobs(sweep_dir)
    failed = [j for j in jobs if j.status == "failed"]
    if not failed:
        return None
    first = failed[0]
    error = " ".join(str((first.results or {}).get("error", "unknown error")).split())
    return (
        f"{len(failed)} of {len(jobs)} job(s) of the sweep {sweep_dir} failed (its cv_summary.md "
        f"lists them); the first, job {first.dir.name} (fold {first.fold}): {error[:300]}; "
        f"to resume the sweep, re-run: {rerun_command(sweep_dir)}"
    )


try:  # Hydra callbacks are optional at import time so the CLI never needs a Hydra run
    from hydra.experimental.callback import Callback as _HydraCallback
except ImportError:  # pragma: no cover
    _HydraCallback = object  # type: ignore[assignment,misc]


class CommandExit(_HydraCallback):
    """Hydra callback (conf/hydra/default.yaml, listed first so that it ends a multirun last,
    after the summary is written): run folders that can be written, and a multirun whose exit
    status and last line say that jobs failed, for SLURM, CI and shell scripts."""

    def on_run_start(self, config: DictConfig, **kwargs: Any) -> None:
        check_writable(config.hydra.run.dir, "hydra.run.dir")

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        check_writable(config.hydra.sweep.dir, "hydra.sweep.dir")

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        message = sweep_failures(config.hydra.sweep.dir)
        if message:
            finish_wandb(SWEEP_FAILED_EXIT_CODE)
            print_error(message)
            sys.exit(SWEEP_FAILED_EXIT_CODE)


class CVSummaryCallback(_HydraCallback):
    """Writes the cross-validation summary into the sweep folder when a multirun ends."""

    def __init__(self, wandb: bool = True) -> None:
        self.wandb = wandb

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        from ..training.search import is_optuna

        sweep_dir = Path(config.hydra.sweep.dir)
        if is_optuna(config.hydra.sweeper):  # trials are scored on the inner split only
            log.info("a search never reads the held-out fold: no cross-validation summary")
            return
        try:
            summary = summarize(sweep_dir)
        except Exception:  # a summary must never turn a finished sweep into a failure
            log.exception("cross-validation summary of %s failed", sweep_dir)
            return
        log.info("cross-validation summary -> %s\n%s", sweep_dir / SUMMARY_MD, to_markdown(summary))
        if self.wandb:
            try:
                log_summary_to_wandb(summary, config)
            except Exception:
                log.exception("logging the summary to W&B failed")
