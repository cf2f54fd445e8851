"""Which code, packages and device made a result: recorded in results.json and cv_summary.json.

A number is only worth what can be traced: the commit (and whether the tree had uncommitted
changes), the versions of the packages that compute it, and the device it ran on. The data's
fingerprint comes from the data module (`data.tables.fingerprint`). `mismatches` names what
differs between runs a summary pairs, so that a difference between two commits or two copies of
the data is never read as a difference between two configurations.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterable, Mapping
from importlib import metadata
from pathlib import Path
from typing import Any

from .. import __version__

# What trains (torch ... torchaudio), what computes the verdicts (scipy, numpy; statsmodels
# where installed: None otherwise) and this project's own version.
PACKAGES = (
    "torch", "lightning", "timm", "torchaudio", "scipy", "numpy", "statsmodels", "fpam_lightning",
)  # fmt: skip
SOURCE = Path(__file__).resolve().parents[1]  # the fpam_lightning package being run


def _git(*args: str) -> str | None:
    try:
        out = subprocess.run(
            ["git", "-C", str(SOURCE), *args], capture_output=True, text=True, timeout=10
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout if out.returncode == 0 else None


def git_state() -> dict[str, Any]:
    """The commit of the code being run and whether its tree differs from it; None outside a
    git checkout (an installed wheel)."""
    # A wheel installed in a venv inside some repository is not that repository's code.
    tracked = _git("ls-files", "--error-unmatch", "__init__.py") is not None
    commit = _git("rev-parse", "HEAD") if tracked else None
    status = _git("status", "--porcelain") if commit else None
    return {
        "commit": commit.strip() if commit else None,
        "dirty": None if status is None else bool(status.strip()),
    }


def package_versions(names: Iterable[str] = PACKAGES) -> dict[str, str | None]:
    out: dict[str, str | None] = {}
    for name in names:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = __version__ if name == "fpam_lightning" else None  # run from a checkout
    return out


def device_name(device: Any) -> str | None:
    """`cpu`, or `cuda:0 (NVIDIA H200)`: the accelerator's model where there is one."""
    if device is None:
        return None
    text = str(device)
    torch = sys.modules.get("torch")  # a CUDA device means torch is loaded; stats never load it
    if text.startswith("cuda") and torch is not None:
        text += f" ({torch.cuda.get_device_name(device)})"
    return text


def provenance(device: Any = None, data: Mapping[str, Any] | None = None) -> dict[str, Any]:
    return {
        **git_state(),
        "packages": package_versions(),
        "device": device_name(device),
        "data": dict(data) if data is not None else None,
    }


def mismatches(records: Iterable[Mapping[str, Any] | None]) -> list[str]:
    """What differs between the provenance records of runs that are compared; [] if nothing.

    Records without provenance (runs older than it) are counted, not guessed.
    """
    records = list(records)
    known = [r for r in records if r]
    notes = []
    commits = sorted({str(r.get("commit")) for r in known})
    if len(commits) > 1:
        notes.append(f"{len(commits)} commits ({', '.join(c[:9] for c in commits)})")
    if any(r.get("dirty") for r in known):
        notes.append(f"{sum(bool(r.get('dirty')) for r in known)} run(s) from a dirty tree")
    data = sorted({str((r.get("data") or {}).get("sha256")) for r in known})
    if len(data) > 1:
        notes.append(f"{len(data)} different data fingerprints ({', '.join(d[:9] for d in data)})")
    if len(known) < len(records):
        notes.append(f"{len(records) - len(known)} run(s) record no provenance")
    return notes
