"""Fixtures of the analysis library tests (the shared trained run is in analysis_run.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from analysis_run import example_sweep


@pytest.fixture
def sweep(tmp_path) -> Path:
    """A 2 x 3 grid (attention x fold) with one failed job and one killed before results."""
    return example_sweep(tmp_path)
