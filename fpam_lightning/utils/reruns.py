"""A run folder as a re-run sees it, below the training layer (the SLURM launcher reads it too).

What ran there (the fingerprint of its resolved config), whether that completed, which live job
holds the folder now, and the command that re-runs a sweep. One live job per folder: a job takes
`.run.lock` (`fcntl.flock`) before anything is written there and holds it while its process
lives; the kernel releases it when the process ends, SIGKILL included (on NFS, flock is a POSIX
lock that the server frees with the client's). A job that finds the folder taken waits for it,
then sees what the other one left: completed (skipped) or lost (resumed from `last.ckpt`). Never
two writers, and the re-run's summary is complete when it ends.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import os
import re
import shlex
import socket
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from .results import RESULTS_FILE

log = logging.getLogger(__name__)

FINGERPRINT_FILE = "resolved_config.sha256"
LOCK_FILE = ".run.lock"


def fingerprint(cfg: DictConfig) -> str:
    """SHA-256 of the resolved config, without `ckpt_path` (how the job starts, not what it is)."""
    config = OmegaConf.to_container(cfg, resolve=True)
    assert isinstance(config, dict)
    config.pop("ckpt_path", None)
    return hashlib.sha256(json.dumps(config, sort_keys=True, default=str).encode()).hexdigest()


def completed_with(output_dir: Path, stamp: str) -> dict[str, Any] | None:
    """The results of a completed run of the config fingerprinted `stamp` in `output_dir`."""
    try:
        same = (output_dir / FINGERPRINT_FILE).read_text().strip() == stamp
        results = json.loads((output_dir / RESULTS_FILE).read_text())
    except (OSError, ValueError):
        return None
    return results if same and results.get("status") == "completed" else None


def holder(output_dir: Path) -> str | None:
    """Who holds `output_dir` now ('job 12_3 (start 0) on node1, pid 42'); None when no one does.

    A shared lock taken for a moment: it never blocks a job, nor another look."""
    try:
        with open(output_dir / LOCK_FILE) as f:
            try:
                fcntl.flock(f, fcntl.LOCK_SH | fcntl.LOCK_NB)
            except BlockingIOError:
                return f.read().strip() or "another process"
            fcntl.flock(f, fcntl.LOCK_UN)
    except OSError:
        pass
    return None


@contextmanager
def hold(output_dir: Path, job: str, rank: int) -> Iterator[None]:
    """Hold `output_dir` for job `job` while the block runs; wait while another job holds it.

    Rank 0 of the job takes the lock; its other ranks (srun tasks) wait until it has (the file
    names `job`), so that none of them writes while an older job still runs there."""
    output_dir.mkdir(parents=True, exist_ok=True)
    lock = output_dir / LOCK_FILE
    if rank > 0:
        while not (lock.is_file() and lock.read_text().startswith(f"{job} on ")):
            time.sleep(1)
        yield
        return
    with open(lock, "a+") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            f.seek(0)
            log.warning(
                "%s is still in use by %s (still running elsewhere): waiting for it to end",
                output_dir,
                f.read().strip() or "another process",
            )
            fcntl.flock(f, fcntl.LOCK_EX)
        f.truncate(0)
        f.write(f"{job} on {socket.gethostname()}, pid {os.getpid()}\n")
        f.flush()
        yield


def rerun_command(sweep_dir: str | Path) -> str:
    """This process's command line with `hydra.sweep.dir=<sweep_dir>`: what finishes the sweep."""
    argv = list(getattr(sys, "orig_argv", None) or [sys.executable, *sys.argv])
    argv = [a for a in argv if not re.match(r"\+{0,2}hydra\.sweep\.dir=", a)]
    return shlex.join([*argv, f"hydra.sweep.dir={os.path.abspath(sweep_dir)}"])
