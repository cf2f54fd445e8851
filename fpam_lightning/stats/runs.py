"""Reading what runs and sweeps left on disk: job folders, their overrides and results.json.

A sweep folder (Hydra's multirun) holds `multirun.yaml` (the grid) and one folder per job with
`.hydra/overrides.yaml` and, once the job ends, `results.json`. `collect_jobs` reads one `Job` per
job folder, `expected_grid` the swept keys and their values.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from omegaconf import OmegaConf

from ..utils.errors import FpamError
from ..utils.io import read_json
from ..utils.results import RESULTS_FILE

FOLD_KEY = "data.fold"
SEED_KEY = "seed"
AXES = (FOLD_KEY, SEED_KEY)  # repetitions of one configuration, not configurations


@dataclass
class Job:
    """One job folder of a sweep: its overrides, its fold and what it left behind."""

    dir: Path
    overrides: dict[str, str]
    fold: int | None
    results: dict[str, Any] | None
    seed: int = 0

    @property
    def status(self) -> str:
        if self.results is None:
            return "unfinished"  # running, killed, or never wrote results.json
        return str(self.results.get("status", "completed"))


# --- reading a sweep ------------------------------------------------------------------------------
def _parse_overrides(lines: list[str]) -> dict[str, list[str]]:
    """Override strings -> key -> values (a sweep `a=1,2` gives two), encoded as Hydra does."""
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.core.override_parser.types import Transformer

    out: dict[str, list[str]] = {}
    for o in OverridesParser.create().parse_overrides([str(x) for x in lines]):
        key = o.get_key_element().lstrip("+~")
        if o.is_sweep_override():
            out[key] = [str(v) for v in o.sweep_iterator(transformer=Transformer.encode)]
        else:
            out[key] = [o.get_value_element_as_str()]
    return out


def job_dirs(sweep_dir: str | Path) -> list[Path]:
    """Every job folder under a sweep: those with a results.json or a Hydra `.hydra` record."""
    root = Path(sweep_dir)
    found = {p.parent for p in root.rglob(RESULTS_FILE)}
    found |= {p.parent.parent for p in root.rglob(".hydra/overrides.yaml")}
    return sorted(
        (d for d in found if not any(part.startswith(".") for part in d.relative_to(root).parts)),
        key=lambda d: [int(p) if p.isdigit() else p for p in d.relative_to(root).parts],
    )


def collect_jobs(sweep_dir: str | Path) -> list[Job]:
    jobs = []
    for d in job_dirs(sweep_dir):
        overrides: dict[str, str] = {}
        ov_file = d / ".hydra" / "overrides.yaml"
        if ov_file.exists():
            lines = OmegaConf.to_container(OmegaConf.load(ov_file)) or []
            overrides = {k: v[0] for k, v in _parse_overrides(list(lines)).items()}
        results = read_json(d / RESULTS_FILE) if (d / RESULTS_FILE).exists() else None
        fold = (results or {}).get("fold", overrides.get(FOLD_KEY))
        seed = (results or {}).get("seed")
        seed = seed if seed is not None else overrides.get(SEED_KEY, 0)
        jobs.append(Job(d, overrides, int(fold) if fold is not None else None, results, int(seed)))
    return jobs


def expected_grid(sweep_dir: str | Path) -> dict[str, list[str]]:
    """The swept keys and their values, from the sweep's multirun.yaml (params, then the CLI)."""
    path = Path(sweep_dir) / "multirun.yaml"
    if not path.exists():
        return {}
    hydra_cfg = OmegaConf.load(path).get("hydra", {})
    params = hydra_cfg.get("sweeper", {}).get("params") or {}
    lines = [f"{k}={v}" for k, v in params.items()]
    lines += list(hydra_cfg.get("overrides", {}).get("task") or [])
    return {k: v for k, v in _parse_overrides(lines).items() if len(v) > 1 or k in AXES}


# --- fold accuracies under any run or sweep folders ---------------------------------------------
def config_label(res: dict) -> str:
    mix = "+mixup" if res.get("mixup") else ""
    return f"{res.get('backbone', '?')}+{res.get('attention', '?')}{mix}"


def collect_fold_accuracies(paths: Sequence[str | Path]) -> dict[str, list[float]]:
    """results.json under the given run or sweep folders, grouped by configuration."""
    groups: dict[str, list[float]] = defaultdict(list)
    for p in paths:
        p = Path(p)
        files = [p] if p.is_file() else sorted(p.rglob(RESULTS_FILE))
        for f in files:
            res = read_json(f)
            if (
                res.get("status", "completed") == "completed"
                and "test_acc" in res
                and res.get("fold") is not None
            ):
                groups[config_label(res)].append(float(res["test_acc"]))
    if not groups:
        where = ", ".join(map(str, paths))
        raise FpamError(f"no completed results.json with test_acc under {where}")
    return dict(groups)
