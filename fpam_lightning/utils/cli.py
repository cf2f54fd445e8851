"""How every command ends: one owner for exit codes, one-line errors and failed-job records.

A user error (`FpamError`) is printed as one `error: ...` line with exit code 2, never as a
traceback. Inside a Hydra multirun a failing job instead records `status: failed` in its
`results.json` and returns, so the sweep goes on and its summary lists the failure; when the
sweep ends, `CommandExit` turns any failed job into the multirun's exit code (1) and last line.
`CommandExit` also checks, before Hydra writes anything, that the run or sweep folder can be
written: Hydra's own failure there is a traceback.
"""

from __future__ import annotations

import functools
import logging
import sys
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from omegaconf import DictConfig

from .errors import FpamError
from .provenance import provenance
from .results import write_results

log = logging.getLogger("fpam_lightning")

SWEEP_FAILED_EXIT_CODE = 1  # a multirun ran every job, and one or more of them failed
USER_ERROR_EXIT_CODE = 2
PREEMPTED_EXIT_CODE = 3  # a signal stopped training at an epoch end; resume with ckpt_path=last

T = TypeVar("T")


def print_error(error: BaseException | str) -> None:
    print(f"error: {error}", file=sys.stderr)


def finish_wandb(exit_code: int = 0) -> None:
    """Close the process's W&B run, if one is open; never masks the command's own outcome."""
    wandb = sys.modules.get("wandb")
    try:
        if wandb is not None and wandb.run is not None:
            wandb.finish(exit_code=exit_code)
    except Exception:
        pass


@contextmanager
def exit_on_user_error() -> Iterator[None]:
    """For a command's body: a user error becomes one `error:` line and exit code 2."""
    try:
        yield
    except FpamError as e:
        finish_wandb(1)
        print_error(e)
        sys.exit(USER_ERROR_EXIT_CODE)


def argv_command(run: Callable[[list[str]], int]) -> Callable[[Sequence[str] | None], int]:
    """Wrap an argparse command `run(argv) -> exit code` as `main(argv=None) -> exit code`."""

    @functools.wraps(run)
    def main(argv: Sequence[str] | None = None) -> int:
        try:
            return run(list(sys.argv[1:] if argv is None else argv))
        except FpamError as e:
            print_error(e)
            return USER_ERROR_EXIT_CODE

    return main


def is_multirun() -> bool:
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    return HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN


def output_dir_of(cfg: DictConfig) -> Path:
    """The job's folder: Hydra's output directory, or `paths.output_dir` outside Hydra."""
    from hydra.core.hydra_config import HydraConfig

    if HydraConfig.initialized():
        return Path(HydraConfig.get().runtime.output_dir)
    return Path(cfg.paths.output_dir)


def record_failure(cfg: DictConfig, error: str) -> None:
    """The multirun's `failed` record: the summary lists it and leaves the fold out."""
    data = cfg.get("data") or {}
    write_results(
        output_dir_of(cfg),
        {
            "status": "failed",
            "error": error,
            "fold": data.get("fold"),
            "seed": cfg.get("seed"),
            "provenance": provenance(),
        },
    )


def user_error(error: BaseException) -> FpamError | None:
    """The FpamError behind `error`, if any: Hydra's `instantiate` wraps what a constructor
    raises (a data module's DataError) in its own InstantiationException."""
    seen: BaseException | None = error
    for _ in range(5):
        if seen is None or isinstance(seen, FpamError):
            return seen
        seen = seen.__cause__
    return None


def hydra_command(body: Callable[[DictConfig], T]) -> Callable[[DictConfig], T | None]:
    """Wrap a Hydra task: user errors exit 2 (or are recorded in a multirun), others propagate.

    In a multirun any Exception is recorded as the job's failure and the sweep goes on.
    """

    @functools.wraps(body)
    def task(cfg: DictConfig) -> T | None:
        try:
            return body(cfg)
        except Exception as e:
            finish_wandb(1)
            error = user_error(e)
            if error is not None:
                print_error(error)
            if is_multirun():
                if error is None:
                    log.exception("job failed")
                record_failure(cfg, f"{type(e).__name__}: {e}" if error is None else str(error))
                return None
            if error is None:
                raise
            sys.exit(USER_ERROR_EXIT_CODE)
        except BaseException:
            finish_wandb(1)
            raise

    return task


def exit_with(code: int, message: str | None = None, **_: Any) -> None:
    """End a command with `code`, first closing W&B and printing `message` to stderr."""
    finish_wandb(code)
    if message:
        print(message, file=sys.stderr)
    sys.exit(code)


# --- what Hydra owns: the run folder, and the multirun's exit -------------------------------------
def check_writable(folder: str | Path, key: str) -> None:
    """Exit 2 with one line when `folder` cannot be created or written (read-only, immutable,
    under a file, full), before Hydra tries and fails with a traceback."""
    path = Path(str(folder)).expanduser()
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=path):
            pass
    except OSError as e:
        print_error(
            f"cannot write the run folder {path} ({e.strerror or e}): choose a writable one "
            f"with {key}=/a/writable/folder (or paths.log_dir=...)"
        )
        sys.exit(USER_ERROR_EXIT_CODE)


def sweep_failures(sweep_dir: str | Path) -> str | None:
    """One line on the failed jobs under a sweep folder, or None when none failed."""
    from ..analysis.sweep import collect_jobs

    jobs = collect_jobs(sweep_dir)
    failed = [j for j in jobs if j.status == "failed"]
    if not failed:
        return None
    first = failed[0]
    error = " ".join(str((first.results or {}).get("error", "unknown error")).split())
    return (
        f"{len(failed)} of {len(jobs)} job(s) of the sweep {sweep_dir} failed (its cv_summary.md "
        f"lists them); the first, job {first.dir.name} (fold {first.fold}): {error[:300]}"
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
