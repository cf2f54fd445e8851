"""ESC-50 and its ESC-10 subset, in the official layout: audio/*.wav and meta/esc50.csv."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from ..utils.errors import DataError
from .base import ClipTable, FoldDataModule
from .synthetic import synthesize_esc50

ESC50_COLUMNS = ("filename", "fold", "target", "category", "esc10", "src_file", "take")


def read_csv_rows(path: Path, required: tuple[str, ...]) -> list[tuple[int, dict]]:
    """Rows of a metadata CSV with their 1-based line numbers; fails on missing columns."""
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        missing = [c for c in required if c not in (reader.fieldnames or [])]
        if missing:
            raise DataError(
                f"{path} lacks the column(s) {', '.join(missing)}; expected {', '.join(required)}"
            )
        return [(i + 2, row) for i, row in enumerate(reader)]


def parse_int(value: str, column: str, path: Path, line: int) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise DataError(f"{path} row {line}: {column}={value!r} is not an integer") from None


class ESC50DataModule(FoldDataModule):
    """ESC-50 (50 classes) or, with subset='esc10', ESC-10 re-indexed to 10 classes."""

    num_folds = 5

    def __init__(self, root: str, subset: str = "esc50", synthetic: dict | None = None, **kw):
        if subset not in ("esc50", "esc10"):
            raise DataError(f"data.subset={subset!r}: choose esc50 or esc10")
        self.subset = subset
        self.name = subset if synthetic is None else f"synthetic_{subset}"
        self.synthetic = dict(synthetic) if synthetic else None
        super().__init__(root, **kw)

    @property
    def csv_path(self) -> Path:
        return self.root / "meta" / "esc50.csv"

    def synthesize(self) -> None:
        synthesize_esc50(self.root, **self.synthetic)

    def read_table(self) -> ClipTable:
        path = self.csv_path
        rows = read_csv_rows(path, ESC50_COLUMNS)
        if self.subset == "esc10":
            rows = [(n, r) for n, r in rows if r["esc10"].strip().lower() == "true"]
        if not rows:
            raise DataError(f"{path} lists no {self.subset} clips")
        files, folds, targets, lines, names, seen = [], [], [], [], {}, {}
        for line, r in rows:
            if r["filename"] in seen:
                raise DataError(
                    f"{path} row {line}: {r['filename']} is listed twice "
                    f"(also row {seen[r['filename']]})"
                )
            seen[r["filename"]] = line
            fold = parse_int(r["fold"], "fold", path, line)
            target = parse_int(r["target"], "target", path, line)
            if not 1 <= fold <= self.num_folds:
                raise DataError(
                    f"{path} row {line} ({r['filename']}): fold {fold} is out of "
                    f"range 1..{self.num_folds}"
                )
            if not 0 <= target < 50:
                raise DataError(
                    f"{path} row {line} ({r['filename']}): target {target} is out of range 0..49"
                )
            if names.setdefault(target, r["category"]) != r["category"]:
                raise DataError(
                    f"{path} row {line}: target {target} is both "
                    f"{names[target]!r} and {r['category']!r}"
                )
            files.append(r["filename"])
            folds.append(fold)
            targets.append(target)
            lines.append(line)
        # ESC-10 (and any partial copy) keeps its original target order, re-indexed to 0..K-1.
        original = sorted(names)
        remap = {t: i for i, t in enumerate(original)}
        return ClipTable(
            files=files,
            folds=np.asarray(folds, dtype=np.int64),
            targets=np.asarray([remap[t] for t in targets], dtype=np.int64),
            rows=lines,
            class_names=[names[t] for t in original],
            csv_path=path,
            extra={"original_targets": original},
        )
