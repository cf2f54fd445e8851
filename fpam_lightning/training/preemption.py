"""Preemption: on SIGTERM, SIGUSR1 or SIGUSR2 finish the epoch, keep its checkpoint, stop, requeue.

The run stops at an epoch boundary rather than mid-epoch because the module reseeds every epoch
from (seed, epoch): a resume from an epoch-end `last.ckpt` repeats the uninterrupted run exactly,
which a mid-epoch checkpoint with a plain DataLoader would not. Lightning's own SIGTERM handler
stops at the next batch instead, so it is replaced while fitting (Lightning restores it after).

Under SLURM (`sbatch --signal=USR1@120`) the job is requeued with `scontrol requeue` once the
checkpoint is on disk; under submitit (hydra's submitit launcher, signal USR2) submitit's own
handler is called at that point and requeues the job itself. Either way the requeued command must
run in the same folder with `ckpt_path=last`, and the W&B run continues from wandb_run_id.txt.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import threading
from pathlib import Path
from types import FrameType

from lightning.pytorch import Callback, LightningModule, Trainer

log = logging.getLogger(__name__)

SIGNALS = tuple(getattr(signal, n) for n in ("SIGTERM", "SIGUSR1", "SIGUSR2") if hasattr(signal, n))


def under_slurm() -> bool:
    return "SLURM_JOB_ID" in os.environ and os.environ.get("SLURM_JOB_NAME") not in (
        "bash",
        "interactive",
    )


def cluster_plugins() -> list:
    """Lightning's SLURM environment (ranks from SLURM) without its mid-step save-and-requeue:
    this callback requeues after an epoch-end checkpoint instead."""
    if not under_slurm():
        return []
    from lightning.pytorch.plugins.environments import SLURMEnvironment

    return [SLURMEnvironment(auto_requeue=False)]


class Preemption(Callback):
    """Turns a termination signal into an epoch-end stop with `last.ckpt` saved."""

    def __init__(self, checkpoint_path: str | os.PathLike, requeue: bool = True):
        self.checkpoint_path = Path(checkpoint_path)
        self.requeue = requeue
        self.signum: int | None = None
        self.preempted = False
        self._previous: dict[int, object] = {}

    # --- signals ------------------------------------------------------------------------------
    def on_train_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        # Runs after Lightning registers its handlers, which it restores when fit ends.
        if threading.current_thread() is not threading.main_thread():
            return
        for sig in SIGNALS:
            self._previous[sig] = signal.getsignal(sig)
            signal.signal(sig, self._on_signal)

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        if self.signum is None:
            log.warning(
                "received %s: finishing this epoch, saving %s, then stopping",
                signal.Signals(signum).name,
                self.checkpoint_path,
            )
        self.signum = signum
        # Pass the signal on to DDP worker processes that Lightning started itself.
        launcher = getattr(self._trainer.strategy, "launcher", None) if self._trainer else None
        procs = getattr(launcher, "procs", None)
        for p in procs or []:
            if p.poll() is None:
                p.send_signal(signum)

    def setup(self, trainer: Trainer, pl_module: LightningModule, stage: str) -> None:
        self._trainer = trainer

    _trainer: Trainer | None = None

    # --- the stop -------------------------------------------------------------------------------
    def on_train_epoch_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        stop = trainer.strategy.reduce_boolean_decision(self.signum is not None, all=False)
        if not stop or trainer.current_epoch + 1 >= (trainer.max_epochs or 0) > 0:
            return  # the last epoch finishes the run anyway
        self.preempted = True
        trainer.should_stop = True
        # The project's ModelCheckpoint writes last.ckpt every n epochs (save_last=False), so
        # this epoch's state is saved here, to the file resume reads.
        trainer.save_checkpoint(self.checkpoint_path)

    def hand_over(self, is_global_zero: bool) -> None:
        """After fit: requeue under SLURM, or give the signal to the handler that was there."""
        if not self.preempted or self.signum is None:
            return
        previous = self._previous.get(self.signum)
        owner = f"{getattr(previous, '__module__', '')} {previous!r}"
        if callable(previous) and "submitit" in owner:
            previous(self.signum, None)  # submitit checkpoints its job spec and requeues
            return
        # Not on SIGTERM: under SLURM that is scancel (or the end), never a request to come back.
        if self.requeue and is_global_zero and under_slurm() and self.signum != signal.SIGTERM:
            array = os.environ.get("SLURM_ARRAY_JOB_ID")
            task = os.environ.get("SLURM_ARRAY_TASK_ID")
            job = f"{array}_{task}" if array else os.environ["SLURM_JOB_ID"]
            try:
                rc = subprocess.call(["scontrol", "requeue", job], timeout=60)
            except (OSError, subprocess.TimeoutExpired) as e:
                rc = f"{type(e).__name__}: {e}"
            log.warning("requeue SLURM job %s: %s", job, "done" if rc == 0 else f"failed ({rc})")
