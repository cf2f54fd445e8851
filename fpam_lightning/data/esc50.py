"""ESC-50 and its ESC-10 subset, in the official layout: audio/*.wav and meta/esc50.csv."""

from __future__ import annotations

from pathlib import Path

from ..utils.errors import DataError
from .base import FoldDataModule
from .synthetic import synthesize_esc50
from .tables import ESC50_LAYOUT, ClipTable, clip_table, read_rows

ESC50_CLASSES = 50


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
        return self.root / ESC50_LAYOUT.csv

    def synthesize(self) -> None:
        synthesize_esc50(self.root, **self.synthetic)

    def read_table(self) -> ClipTable:
        rows = read_rows(self.csv_path, ESC50_LAYOUT.columns)
        if self.subset == "esc10":
            rows = [(n, r) for n, r in rows if r["esc10"].strip().lower() == "true"]
        # ESC-10 (and any partial copy) keeps its original target order, re-indexed to 0..K-1.
        return clip_table(
            self.csv_path,
            rows,
            ESC50_LAYOUT,
            num_folds=self.num_folds,
            num_classes=ESC50_CLASSES,
            reindex=True,
            what=f"{self.subset} clips",
        )
