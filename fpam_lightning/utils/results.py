"""`results.json`: the one file per run that scripts, sweeps and `summarize` read."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .io import read_json, write_json_atomic

RESULTS_FILE = "results.json"


def write_results(output_dir: str | Path, results: dict[str, Any]) -> Path:
    path = Path(output_dir) / RESULTS_FILE
    write_json_atomic(path, results)
    return path


def read_results(run_dir: str | Path) -> dict[str, Any]:
    return read_json(Path(run_dir) / RESULTS_FILE)
