"""Data sets: one LightningDataModule each, sharing one audio-loading core and cache."""

from .base import FoldDataModule
from .esc50 import ESC50DataModule
from .tables import ClipTable
from .us8k import UrbanSound8KDataModule

__all__ = ["ClipTable", "ESC50DataModule", "FoldDataModule", "UrbanSound8KDataModule"]
