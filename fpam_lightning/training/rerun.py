"""A job run again in the folder it already ran in: a re-run sweep runs only what is not done.

Re-running a multirun with the same `hydra.sweep.dir` (and a SLURM job that was requeued) comes
back here with each job's folder. With the same resolved config as last time: a completed job is
skipped (its results.json stands), a preempted, cancelled or lost one resumes from its
`checkpoints/last.ckpt` (and its W&B run), and one that failed in Python runs again from scratch.
A job whose config changed always runs from scratch. The summary is then rebuilt over all jobs.
Under the SLURM launcher a completed job is not even submitted again, and a job waits while an
older one still runs in its folder (utils.reruns, utils.launchers).
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, open_dict

from ..utils.reruns import FINGERPRINT_FILE, fingerprint
from ..utils.results import RESULTS_FILE

log = logging.getLogger(__name__)

RUN_ID_FILE = "wandb_run_id.txt"


def applies(cfg: DictConfig) -> bool:
    """In a multirun job, or in a SLURM job that SLURM started again (requeue)."""
    from ..utils.cli import is_multirun

    return is_multirun() or int(os.environ.get("SLURM_RESTART_COUNT", "0") or 0) > 0


def plan_rerun(cfg: DictConfig, output_dir: Path, writer: bool) -> dict[str, Any] | None:
    """The earlier results when this job is already done; otherwise prepare the folder (resume
    from last.ckpt, or remove what a fresh run must not continue) and return None."""
    if not applies(cfg):
        return None
    now = fingerprint(cfg)
    stamp = output_dir / FINGERPRINT_FILE
    same = stamp.is_file() and stamp.read_text().strip() == now
    try:
        before = json.loads((output_dir / RESULTS_FILE).read_text())
    except (OSError, ValueError):
        before = {}
    status = before.get("status")
    last = output_dir / "checkpoints" / "last.ckpt"
    if same and status == "completed":
        log.info("already completed with this config: skipped (%s)", output_dir / RESULTS_FILE)
        return before
    failed_in_python = status == "failed" and not before.get("lost")
    if same and last.is_file() and not failed_in_python:
        if cfg.get("ckpt_path") in (None, "", "null"):
            log.info("resuming from %s (status before: %s)", last, status or "none")
            with open_dict(cfg):
                cfg.ckpt_path = "last"
    elif writer and (last.is_file() or (output_dir / RUN_ID_FILE).is_file()):
        log.info("running again from scratch in %s (status before: %s)", output_dir, status)
        last.unlink(missing_ok=True)
        (output_dir / RUN_ID_FILE).unlink(missing_ok=True)
    if writer:
        output_dir.mkdir(parents=True, exist_ok=True)
        stamp.write_text(now + "\n")
    return None
