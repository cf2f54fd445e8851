"""UrbanSound8K in its official layout: audio/fold{k}/*.wav and metadata/UrbanSound8K.csv.

Ten predefined folds; its authors ask that results are reported over all ten. The clips come
in many encodings (8 to 96 kHz, mono or stereo, 8-bit unsigned to 32-bit float), all decoded by
the shared audio core, and are at most 4 s long, so shorter ones are zero-padded.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..utils.errors import DataError
from .base import ClipTable, FoldDataModule
from .esc50 import parse_int, read_csv_rows
from .synthetic import US8K_COLUMNS, synthesize_us8k

US8K_CSV = "metadata/UrbanSound8K.csv"


class UrbanSound8KDataModule(FoldDataModule):
    """UrbanSound8K: 8732 clips, 10 classes, 10 folds (`data.fold` in 1..10)."""

    num_folds = 10

    def __init__(self, root: str, synthetic: dict | None = None, **kw):
        self.name = "us8k" if synthetic is None else "synthetic_us8k"
        self.synthetic = dict(synthetic) if synthetic else None
        kw.setdefault("num_classes", 10)
        super().__init__(root, **kw)

    @property
    def csv_path(self) -> Path:
        return self.root / US8K_CSV

    def synthesize(self) -> None:
        synthesize_us8k(self.root, **self.synthetic)

    def read_table(self) -> ClipTable:
        path = self.csv_path
        rows = read_csv_rows(path, US8K_COLUMNS)
        if not rows:
            raise DataError(f"{path} lists no clips")
        limit = int(self.expected_classes) if self.expected_classes is not None else None
        files, folds, targets, lines, names, seen = [], [], [], [], {}, {}
        for line, r in rows:
            fold = parse_int(r["fold"], "fold", path, line)
            target = parse_int(r["classID"], "classID", path, line)
            name = r["slice_file_name"].strip()
            if not 1 <= fold <= self.num_folds:
                raise DataError(
                    f"{path} row {line} ({name}): fold {fold} is out of range 1..{self.num_folds}"
                )
            if target < 0 or (limit is not None and target >= limit):
                raise DataError(
                    f"{path} row {line} ({name}): classID {target} is out of range "
                    f"0..{(limit or 1) - 1} (data.num_classes={limit})"
                )
            if names.setdefault(target, r["class"]) != r["class"]:
                raise DataError(
                    f"{path} row {line} ({name}): classID {target} is both "
                    f"{names[target]!r} and {r['class']!r}"
                )
            rel = f"fold{fold}/{name}"
            if rel in seen:
                raise DataError(f"{path} row {line}: {rel} is listed twice (also row {seen[rel]})")
            seen[rel] = line
            files.append(rel)
            folds.append(fold)
            targets.append(target)
            lines.append(line)
        ids = sorted(names)
        if ids != list(range(len(ids))):
            raise DataError(
                f"{path}: classIDs {ids} are not 0..{len(ids) - 1}; a class has no "
                "clips (a partial copy?)"
            )
        return ClipTable(
            files=files,
            folds=np.asarray(folds, dtype=np.int64),
            targets=np.asarray(targets, dtype=np.int64),
            rows=lines,
            class_names=[names[t] for t in ids],
            csv_path=path,
            extra={
                "salience": [parse_int(r["salience"] or "0", "salience", path, n) for n, r in rows]
            },
        )
