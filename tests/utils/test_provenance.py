"""provenance: the commit, packages and device behind a result, and what differs between runs."""

from __future__ import annotations

import subprocess
from importlib import metadata

import pytest

import fpam_lightning
from fpam_lightning.utils.provenance import SOURCE, mismatches, provenance


def test_provenance_names_the_checkout_packages_and_device():
    head = subprocess.run(
        ["git", "-C", str(SOURCE), "rev-parse", "HEAD"], capture_output=True, text=True
    )
    if head.returncode != 0:
        pytest.skip("the package is not run from a git checkout")
    status = subprocess.run(
        ["git", "-C", str(SOURCE), "status", "--porcelain"], capture_output=True, text=True
    )
    p = provenance("cpu", {"sha256": "ab", "clips": 3, "csv": "x.csv"})
    assert p["commit"] == head.stdout.strip() and len(p["commit"]) == 40
    assert p["dirty"] is bool(status.stdout.strip())
    assert p["packages"]["torch"] == metadata.version("torch")
    assert set(p["packages"]) == {"torch", "lightning", "timm", "torchaudio", "scipy", "numpy",
                                  "statsmodels", "fpam_lightning"}  # fmt: skip
    # what computes the verdicts, and this project's own version
    assert p["packages"]["scipy"] == metadata.version("scipy")
    assert p["packages"]["numpy"] == metadata.version("numpy")
    assert p["packages"]["fpam_lightning"] == fpam_lightning.__version__
    assert p["device"] == "cpu" and p["data"]["clips"] == 3


def test_mismatches_name_commits_dirty_trees_data_and_missing_records():
    a = {"commit": "a" * 40, "dirty": False, "data": {"sha256": "1" * 64}}
    assert mismatches([a, dict(a)]) == []
    b = {"commit": "b" * 40, "dirty": True, "data": {"sha256": "2" * 64}}
    notes = mismatches([a, b, None])
    assert notes[0] == "2 commits (aaaaaaaaa, bbbbbbbbb)"
    assert notes[1] == "1 run(s) from a dirty tree"
    assert notes[2].startswith("2 different data fingerprints")
    assert notes[3] == "1 run(s) record no provenance"
