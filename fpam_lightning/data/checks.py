"""What a data module says about its clips: bad files, folds left empty, and the split sizes.

Kept apart from `base.FoldDataModule` so that each message exists once: a bad file is named with
its CSV row, in one line, once per run (Lightning calls `prepare_data` and `setup` several
times); a fold that has no usable clip is refused before any model is built, since a held-out
fold without clips cannot be scored; the logged counts leave skipped files out.
"""

from __future__ import annotations

import logging
from collections import Counter
from pathlib import Path

import numpy as np

from ..utils.errors import DataError
from .tables import ClipTable

log = logging.getLogger(__name__)
SHOWN = 3  # bad files named in a message; the rest are counted


def bad_files_line(table: ClipTable, bad: dict[int, str], limit: int = SHOWN) -> str:
    """`a.wav (esc50.csv row 4): reason; ...; and N more` on one line."""
    items = [f"{table.describe(i)}: {bad[i]}" for i in sorted(bad)[:limit]]
    more = len(bad) - len(items)
    return "; ".join(items) + (f"; and {more} more" if more else "")


def report_bad_files(table: ClipTable, bad: dict[int, str], mode: str, audio_dir: Path) -> None:
    """Stop on bad files (`error`), or say once that they are skipped, with the first names."""
    if not bad:
        return
    if mode == "error":
        raise DataError(
            f"{len(bad)} bad audio file(s) in {audio_dir}: {bad_files_line(table, bad)} "
            "(data.on_bad_file=skip drops and counts them)"
        )
    log.warning(
        "skipping %d of %d audio files in %s (data.on_bad_file=skip; results.json lists them "
        "all): %s",
        len(bad),
        len(table),
        audio_dir,
        bad_files_line(table, bad),
    )


def check_folds_usable(
    table: ClipTable, bad: dict[int, str], fold: int, name: str, num_folds: int
) -> None:
    """Refuse a held-out fold left without any clip to score (before a model is trained)."""
    keep = ~np.isin(np.arange(len(table)), list(bad))
    held_out = table.folds == fold
    if not held_out.any():
        raise DataError(
            f"{table.csv_path} lists no clip in fold {fold}: a fold with no clips cannot be "
            f"scored; hold out another (data.fold=1..{num_folds})"
        )
    if not (held_out & keep).any():
        lost = {i: bad[i] for i in np.flatnonzero(held_out)}
        raise DataError(
            f"held-out fold {fold} of {name} has no usable clip: all {len(lost)} of its files "
            f"are bad ({bad_files_line(table, lost, 2)}), and a fold with no clips cannot be "
            "scored; repair them or hold out another fold"
        )


def log_statistics(
    table: ClipTable, keep: np.ndarray, indices: dict[str, np.ndarray], dm_info: dict
) -> None:
    """The split sizes and the classes of the clips in use (skipped files not counted)."""
    used = np.flatnonzero(keep)
    per_fold = Counter(int(f) for f in table.folds[used])
    log.info(
        "%s: %d clips (%d skipped of %d listed), %d classes, folds %s; held-out fold %d: "
        "train %d, val %d (%s), test %d",
        dm_info["name"],
        len(used),
        len(table) - len(used),
        len(table),
        len(table.class_names),
        dict(sorted(per_fold.items())),
        dm_info["fold"],
        len(indices["train"]),
        len(indices["val"]),
        dm_info["val_mode"],
        len(indices["test"]),
    )
    names = table.class_names
    per_class = Counter(int(c) for c in table.targets[indices["train"]])
    log.info("train clips per class: %s", {names[c]: n for c, n in sorted(per_class.items())})
    every = Counter(int(c) for c in table.targets[used])
    log.info("all clips per class: %s", {names[c]: n for c, n in sorted(every.items())})
