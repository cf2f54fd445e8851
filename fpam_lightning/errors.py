"""User-facing errors: the entry points print these as one line, never as a traceback."""

import sys
from collections.abc import Iterator
from contextlib import contextmanager


class FpamError(Exception):
    """A problem the user can fix (a path, a setting, a file); the message says how."""


class DataError(FpamError):
    """The data set is missing, unreachable or malformed."""


class ConfigError(FpamError):
    """The composed configuration is invalid."""


USER_ERROR_EXIT_CODE = 2


@contextmanager
def exit_on_user_error() -> Iterator[None]:
    """For command-line entry points: a user error becomes one `error:` line and exit code 2."""
    try:
        yield
    except FpamError as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(USER_ERROR_EXIT_CODE)
