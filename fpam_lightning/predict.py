"""Classify your own recordings: `python -m fpam_lightning.predict ckpt_path=CKPT FILE_OR_DIR ...`.

Arguments are `key=value` settings (as in the other commands) and any number of audio files or
folders (searched recursively for .wav/.flac/.ogg/.aiff/.mp3). Settings:

  ckpt_path=PATH     the checkpoint (required)
  top_k=3            classes printed per file
  csv=PATH           write one row per file: top-k and every class's probability
  windows_csv=PATH   write one row per window: its start/end (s) and class probabilities
  hop=SECONDS        hop between windows of a long file (default: half the training length)
  device=auto        auto | cpu | cuda
  batch_size=32      windows per forward pass

Any channel count, sample rate and length is accepted: audio is mixed to mono and resampled to
the model's rate. A file no longer than the training clip is zero-padded, as in training; a
longer one is cut into clip-length windows (the last one flush with the end) whose class
probabilities are averaged (`inference.predictor`). A file that cannot be read, or that holds
NaN/Inf samples, is reported on stderr and the others are still scored (exit code 1); a bad
checkpoint exits with code 2.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from .utils.cli import argv_command, command_parser
from .utils.errors import FpamError

if TYPE_CHECKING:
    from .inference.predictor import FilePrediction

PROG = "python -m fpam_lightning.predict"
EXAMPLE = f"{PROG} ckpt_path=RUN/checkpoints/last.ckpt recordings/ top_k=5 csv=predictions.csv"

DEFAULTS = {
    "ckpt_path": None,
    "top_k": "3",
    "csv": None,
    "windows_csv": None,
    "hop": None,
    "device": "auto",
    "batch_size": "32",
}


def build_parser():
    parser = command_parser(PROG, __doc__, EXAMPLE)
    parser.add_argument(
        "arguments",
        nargs="*",
        metavar="KEY=VALUE|FILE_OR_DIR",
        help="settings (above; also as --key=value) and audio files or folders, in any order",
    )
    return parser


def parse_args(argv: Sequence[str]) -> tuple[dict[str, str | None], list[str]]:
    """Split `key=value` settings from paths; an existing path always counts as a path."""
    build_parser().parse_known_args(argv)  # -h / --help: the usage, then exit
    settings: dict[str, str | None] = dict(DEFAULTS)
    paths: list[str] = []
    for arg in argv:
        key, eq, value = arg.partition("=")
        key = key.lstrip("-").replace("-", "_")
        if eq and key in DEFAULTS and not Path(arg).exists():
            settings[key] = value
        elif arg.startswith("-"):
            raise FpamError(
                f"unknown option {arg!r}: settings are key=value, keys {', '.join(DEFAULTS)}"
            )
        elif eq and not Path(arg).exists() and "/" not in key:
            raise FpamError(f"unknown setting {key!r}: choose from {', '.join(DEFAULTS)}")
        else:
            paths.append(arg)
    if not settings["ckpt_path"]:
        raise FpamError("give the checkpoint: ckpt_path=RUN/checkpoints/last.ckpt")
    if not paths:
        raise FpamError("give one or more audio files or folders to classify")
    return settings, paths


def number(settings: dict[str, str | None], key: str, kind: type = int):
    """A numeric setting, or a one-line error naming it (not a ValueError traceback)."""
    try:
        return kind(settings[key])
    except (TypeError, ValueError):
        what = "an integer" if kind is int else "a number"
        raise FpamError(f"{key}={settings[key]!r} is not {what}") from None


def report(p: FilePrediction, names: Sequence[str], k: int) -> None:
    if p.error:
        print(f"{p.file}: error: {p.error}", file=sys.stderr)
        return
    from .inference.predictor import top_k

    best = ", ".join(f"{name} {q:.3f}" for name, q in top_k(p.probs, names, k))
    n = len(p.windows)
    print(f"{p.file}: {best} ({n} window{'s' if n > 1 else ''}, {p.duration_s:.2f} s)")


def run(argv: list[str]) -> int:
    settings, paths = parse_args(argv)
    from .inference.predictor import expand, file_table, predict_file, window_hop, window_table
    from .inference.scoring import pick_device
    from .training.checkpoint import load_checkpoint
    from .utils.run_files import write_csv

    top, batch_size = number(settings, "top_k"), number(settings, "batch_size")
    if batch_size < 1:
        raise FpamError(f"batch_size={batch_size} must be at least 1")
    hop_s = number(settings, "hop", float) if settings["hop"] else None
    loaded = load_checkpoint(settings["ckpt_path"], pick_device(settings["device"]))
    k = max(1, min(top, len(loaded.class_names)))
    hop = window_hop(loaded, hop_s)
    preds = []
    for path in expand(paths):
        preds.append(predict_file(loaded, path, hop, batch_size))
        report(preds[-1], loaded.class_names, k)
    if settings["csv"]:
        rows, columns = file_table(preds, loaded.class_names, k)
        write_csv(settings["csv"], rows, columns)
    if settings["windows_csv"]:
        rows, columns = window_table(preds, loaded.class_names)
        write_csv(settings["windows_csv"], rows, columns)
    failed = sum(p.error is not None for p in preds)
    if failed:
        print(
            f"{failed} of {len(preds)} file(s) could not be read or scored (see above)",
            file=sys.stderr,
        )
    return 1 if failed else 0


main = argv_command(run)

if __name__ == "__main__":
    sys.exit(main())
