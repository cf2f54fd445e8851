"""UrbanSound8K in its official layout: audio/fold{k}/*.wav and metadata/UrbanSound8K.csv.

Ten predefined folds; its authors ask that results are reported over all ten. The clips come
in many encodings (8 to 96 kHz, mono or stereo, 8-bit unsigned to 32-bit float), all decoded by
the shared audio core, and are at most 4 s long, so shorter ones are zero-padded.
"""

from __future__ import annotations

from pathlib import Path

from .base import FoldDataModule
from .synthetic import synthesize_us8k
from .tables import US8K_LAYOUT, ClipTable, clip_table, parse_int, read_rows


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
        return self.root / US8K_LAYOUT.csv

    def synthesize(self) -> None:
        synthesize_us8k(self.root, **self.synthetic)

    def read_table(self) -> ClipTable:
        path = self.csv_path
        rows = read_rows(path, US8K_LAYOUT.columns)
        limit = int(self.expected_classes) if self.expected_classes is not None else None
        table = clip_table(
            path,
            rows,
            US8K_LAYOUT,
            num_folds=self.num_folds,
            num_classes=limit,
            classes_note=f" (data.num_classes={limit})",
        )
        table.extra["salience"] = [
            parse_int(r["salience"] or "0", "salience", path, n) for n, r in rows
        ]
        return table
