"""User-facing errors: commands print these as one line (see `utils.cli`), never a traceback."""


class FpamError(Exception):
    """A problem the user can fix (a path, a setting, a file); the message says how."""


class DataError(FpamError):
    """The data set is missing, unreachable or malformed."""


class ConfigError(FpamError):
    """The composed configuration is invalid."""
