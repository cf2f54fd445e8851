"""Data sets: one LightningDataModule each, sharing one audio-loading core and cache."""

from .base import ClipTable, FoldDataModule
from .esc50 import ESC50DataModule
from .us8k import UrbanSound8KDataModule

__all__ = ["ClipTable", "ESC50DataModule", "FoldDataModule", "UrbanSound8KDataModule"]
