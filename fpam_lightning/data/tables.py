"""The clip table of a fold-based data set: its metadata CSV, read and checked in one place.

Every data set's CSV lists, per clip, an audio file, a fold, an integer class id and a class
name; a `TableLayout` says which columns hold them. `read_rows` opens the file (UTF-8, with or
without the byte-order mark that spreadsheet programs write) and checks the columns;
`clip_table` checks the rows: integers, fold and class-id ranges, one name per class id, no
clip listed twice. Every error names the file, the CSV row and the reason.
"""

from __future__ import annotations

import csv
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..utils.errors import DataError

Row = tuple[int, dict[str, str]]  # (line number in the file, cells by column name)


@dataclass
class ClipTable:
    """One row per clip: its file (relative to the audio folder), fold, target and CSV row."""

    files: list[str]
    folds: np.ndarray
    targets: np.ndarray
    rows: list[int]
    class_names: list[str]
    csv_path: Path
    extra: dict = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.files)

    def describe(self, i: int) -> str:
        return f"{self.files[i]} ({self.csv_path.name} row {self.rows[i]})"


@dataclass(frozen=True)
class TableLayout:
    """Where a data set keeps its metadata CSV and which of its columns hold what."""

    csv: str  # relative to the data set's root
    columns: tuple[str, ...]  # every column of the official file, all required
    file: str  # the audio file's name
    fold: str
    target: str  # the integer class id
    category: str  # the class name
    fold_folders: bool = False  # audio/fold{k}/{file} instead of audio/{file}


ESC50_LAYOUT = TableLayout(
    csv="meta/esc50.csv",
    columns=("filename", "fold", "target", "category", "esc10", "src_file", "take"),
    file="filename",
    fold="fold",
    target="target",
    category="category",
)
US8K_LAYOUT = TableLayout(
    csv="metadata/UrbanSound8K.csv",
    columns=("slice_file_name", "fsID", "start", "end", "salience", "fold", "classID", "class"),
    file="slice_file_name",
    fold="fold",
    target="classID",
    category="class",
    fold_folders=True,
)


def read_rows(path: Path, columns: Sequence[str]) -> list[Row]:
    """The CSV's rows with their line numbers (the header is line 1); fails on missing columns.

    `utf-8-sig` reads files with and without a byte-order mark alike: with plain `utf-8` the
    mark would stick to the first column's name, which then looks missing.
    """
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            reader = csv.DictReader(f)
            header = [name.strip() for name in reader.fieldnames or []]
            missing = [c for c in columns if c not in header]
            if missing:
                raise DataError(
                    f"{path} lacks the column(s) {', '.join(missing)}; "
                    f"expected {', '.join(columns)}"
                )
            reader.fieldnames = header
            # Short rows give None and long ones a None key: both become plain strings here.
            return [
                (reader.line_num, {k: v or "" for k, v in row.items() if k is not None})
                for row in reader
            ]
    except UnicodeDecodeError as e:
        raise DataError(
            f"{path} is not UTF-8 text ({e.reason} at byte {e.start}): save it as CSV UTF-8"
        ) from None


def parse_int(value: str, column: str, path: Path, line: int) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise DataError(f"{path} row {line}: {column}={value!r} is not an integer") from None


def _check_ranges(
    where: str,
    layout: TableLayout,
    fold: int,
    target: int,
    num_folds: int,
    num_classes: int | None,
    classes_note: str,
) -> None:
    if not 1 <= fold <= num_folds:
        raise DataError(f"{where}: {layout.fold} {fold} is out of range 1..{num_folds}")
    if target < 0 and num_classes is None:
        raise DataError(f"{where}: {layout.target} {target} is negative")
    if num_classes is not None and not 0 <= target < num_classes:
        raise DataError(
            f"{where}: {layout.target} {target} is out of range 0..{num_classes - 1}{classes_note}"
        )


def clip_table(
    path: Path,
    rows: list[Row],
    layout: TableLayout,
    *,
    num_folds: int,
    num_classes: int | None = None,
    classes_note: str = "",
    reindex: bool = False,
    what: str = "clips",
) -> ClipTable:
    """Check `rows` and build the table; class ids become 0..K-1 in their original order.

    `num_classes` bounds the class ids (`classes_note` says where the bound comes from).
    With `reindex` any set of ids is accepted (ESC-10 keeps its ESC-50 ids); without it they
    must already be 0..K-1, or a class has no clips.
    """
    if not rows:
        raise DataError(f"{path} lists no {what}")
    files, folds, targets, lines = [], [], [], []
    names: dict[int, str] = {}
    seen: dict[str, int] = {}
    for line, r in rows:
        name = r[layout.file].strip()
        fold = parse_int(r[layout.fold], layout.fold, path, line)
        target = parse_int(r[layout.target], layout.target, path, line)
        where = f"{path} row {line} ({name})"
        _check_ranges(where, layout, fold, target, num_folds, num_classes, classes_note)
        category = r[layout.category].strip()
        if names.setdefault(target, category) != category:
            raise DataError(
                f"{where}: {layout.target} {target} is both {names[target]!r} and {category!r}"
            )
        rel = f"fold{fold}/{name}" if layout.fold_folders else name
        if rel in seen:
            raise DataError(f"{path} row {line}: {rel} is listed twice (also row {seen[rel]})")
        seen[rel] = line
        files.append(rel)
        folds.append(fold)
        targets.append(target)
        lines.append(line)
    ids = sorted(names)
    if not reindex and ids != list(range(len(ids))):
        raise DataError(
            f"{path}: {layout.target}s {ids} are not 0..{len(ids) - 1}; a class has no "
            "clips (a partial copy?)"
        )
    index = {t: i for i, t in enumerate(ids)}
    return ClipTable(
        files=files,
        folds=np.asarray(folds, dtype=np.int64),
        targets=np.asarray([index[t] for t in targets], dtype=np.int64),
        rows=lines,
        class_names=[names[t] for t in ids],
        csv_path=path,
        extra={"original_targets": ids} if reindex else {},
    )


def fingerprint(table: ClipTable, keep: np.ndarray | None = None) -> dict[str, object]:
    """What a run's data was: a hash of the rows it used (file, fold, class name, in order),
    their count and the CSV's name. Two copies of a data set with the same rows hash alike; a
    changed label, fold or skipped clip changes the hash."""
    used = range(len(table)) if keep is None else np.flatnonzero(keep)
    h = hashlib.sha256()
    for i in used:
        name = table.class_names[int(table.targets[i])]
        h.update(f"{table.files[i]}\t{int(table.folds[i])}\t{name}\n".encode())
    return {"sha256": h.hexdigest(), "clips": len(used), "csv": table.csv_path.name}
