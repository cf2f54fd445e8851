"""How every command ends: one owner for exit codes, one-line errors and failed-job records.

A user error (`FpamError`) is printed as one `error: ...` line with exit code 2, never as a
traceback. Inside a Hydra multirun a failing job instead records `status: failed` in its
`results.json` and returns, so the sweep goes on and its summary lists the failure; when the
sweep ends, the `CommandExit` Hydra callback (`reporting.hydra_callbacks`) turns any failed job
into the multirun's exit code (1) and last line, and checks here (`check_writable`), before Hydra
writes anything, that the run or sweep folder can be written: Hydra's own failure there is a
traceback.
"""

from __future__ import annotations

import argparse
import functools
import logging
import os
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


class HelpFormatter(argparse.RawDescriptionHelpFormatter, argparse.ArgumentDefaultsHelpFormatter):
    """The command's docstring as written, and every option with its default."""


def command_parser(prog: str, doc: str | None, example: str) -> argparse.ArgumentParser:
    """The parser of a command that is not a Hydra app (predict, figures, summarize, bench):
    `-h`/`--help` prints its usage, its docstring (what it needs, its settings and their
    defaults), every option with its default, and one example."""
    return argparse.ArgumentParser(
        prog=prog,
        description=doc,
        epilog=f"example:\n  {example}",
        formatter_class=HelpFormatter,
    )


def argv_command(run: Callable[[list[str]], int]) -> Callable[[Sequence[str] | None], int]:
    """Wrap an argparse command `run(argv) -> exit code` as `main(argv=None) -> exit code`.

    Its imports of torch and the project's machinery belong inside `run`, after parsing, so
    that `--help` answers at once."""

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
        release_hydra_full_error()  # composed: Hydra reports the task's own errors as usual
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


_HYDRA_FULL_ERROR = "HYDRA_FULL_ERROR"
_raised_for_composition = False  # HYDRA_FULL_ERROR set by `one_line_config_errors`


def one_line_config_errors(main: Callable[[], T]) -> Callable[[], T]:
    """Wrap a `@hydra.main` entry point: a value of the wrong type, which Hydra refuses while it
    composes (against the schema, utils/schema.py), ends as one `error: invalid configuration:`
    line with exit code 2, like every other bad setting, instead of Hydra's several lines.

    Hydra prints composition errors itself unless HYDRA_FULL_ERROR is set; it is set here only
    until the task starts (`hydra_command` clears it), so errors inside a task read as before.
    Other composition errors (an unknown option or key) keep Hydra's message and exit code 1.
    """

    @functools.wraps(main)
    def entry(*args: Any, **kwargs: Any) -> T:
        global _raised_for_composition
        from hydra.errors import CompactHydraException
        from omegaconf.errors import ValidationError

        _raised_for_composition = _HYDRA_FULL_ERROR not in os.environ
        if _raised_for_composition:
            os.environ[_HYDRA_FULL_ERROR] = "1"
        try:
            return main(*args, **kwargs)
        except CompactHydraException as e:
            if not _raised_for_composition:
                raise
            cause = e.__cause__
            if isinstance(cause, ValidationError) and cause.full_key:
                from .schema import wrong_type_problem

                clause = wrong_type_problem(
                    cause.object_type, cause.full_key, cause.value, str(cause.msg)
                )
                print_error(f"invalid configuration: {clause}")
                sys.exit(USER_ERROR_EXIT_CODE)
            print(str(e), file=sys.stderr)  # as Hydra reports it
            if cause is not None:
                print(str(cause), file=sys.stderr)
            hint = f"Set the environment variable {_HYDRA_FULL_ERROR}=1 for a complete stack trace."
            print(f"\n{hint}", file=sys.stderr)
            sys.exit(1)
        finally:
            release_hydra_full_error()

    return entry


def release_hydra_full_error() -> None:
    """Hand error reporting back to Hydra once composition is over (see one_line_config_errors)."""
    global _raised_for_composition
    if _raised_for_composition:
        os.environ.pop(_HYDRA_FULL_ERROR, None)
        _raised_for_composition = False


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
