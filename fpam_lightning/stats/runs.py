"""Reading what runs and sweeps left on disk: job folders, their overrides and results.json.

A sweep folder (Hydra's multirun) holds `multirun.yaml` (the grid) and one folder per job with
`.hydra/overrides.yaml` and, once the job ends, `results.json`. `collect_jobs` reads one `Job` per
job folder, `expected_grid` the swept keys and their values.

Every value read from a job folder is checked (`problem`): a results.json that is not JSON (a
truncated write), an accuracy that is not a finite number from 0 to 1 (NaN, "72.50%", a list,
72.5 for a percentage), clip counts that are not positive whole numbers, an accuracy that is not
a whole number of clips out of `num_test`. Such a job is kept with its `problem` and the summary
leaves it out, naming the file and the problem in one line.
"""

from __future__ import annotations

import json
import logging
import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from hydra.errors import HydraException
from omegaconf import OmegaConf
from omegaconf.errors import OmegaConfBaseException

from ..utils.errors import FpamError
from ..utils.io import read_json
from ..utils.results import RESULTS_FILE

log = logging.getLogger(__name__)

FOLD_KEY = "data.fold"
SEED_KEY = "seed"
AXES = (FOLD_KEY, SEED_KEY)  # repetitions of one configuration, not configurations
HEADLINE = "test_acc"  # last epoch, held-out fold
BEST_ON_TEST = "best_epoch_test_acc"  # the epoch picked on the held-out fold: optimistic


@dataclass
class Job:
    """One job folder of a sweep: its overrides, its fold and what it left behind."""

    dir: Path
    overrides: dict[str, str]
    fold: int | None
    results: dict[str, Any] | None
    seed: int = 0
    problem: str | None = None  # why its files cannot be used: the job is left out

    @property
    def status(self) -> str:
        if self.problem is not None:
            return "excluded"
        if self.results is None:
            return "unfinished"  # running, killed, or never wrote results.json
        return str(self.results.get("status", "completed"))


# --- checking what a job left ---------------------------------------------------------------------
def _whole(x: Any) -> bool:
    return (isinstance(x, int) and not isinstance(x, bool)) or (
        isinstance(x, float) and x.is_integer()
    )


def _accuracy_problem(key: str, x: Any, n_test: Any) -> str | None:
    if isinstance(x, bool) or not isinstance(x, (int, float)):
        return f"{key} {json_text(x)} is not a number (an accuracy is a fraction from 0 to 1)"
    if not math.isfinite(x):
        return f"{key} is {x}, not a finite number"
    if x < 0:
        return f"{key} {x} is negative"
    if x > 1:
        hint = f" ({x} looks like a percentage: {x / 100:g})" if 2 <= x <= 100 else ""
        return f"{key} {x} is above 1: an accuracy is a fraction of the clips{hint}"
    if n_test is not None:
        right = x * n_test
        if abs(right - round(right)) > 1e-3:
            near = round(right)
            return (
                f"{key} {x} is not a whole number of clips out of num_test {n_test} (nearest "
                f"{near}/{n_test} = {near / n_test:.6g}): not an accuracy over this fold's clips"
            )
    return None


def json_text(x: Any) -> str:
    """A value as results.json spells it, cut to 40 characters."""
    text = json.dumps(x) if isinstance(x, (str, list, dict)) else repr(x)
    return text if len(text) <= 40 else text[:37] + "..."


def problem(res: Any) -> str | None:
    """Why a results.json's values cannot be used as they stand; None when they can."""
    if not isinstance(res, dict):
        return f"holds a {type(res).__name__}, not a JSON object"
    if not isinstance(res.get("status", "completed"), str):
        return f"status {json_text(res['status'])} is not a word"
    for key in ("fold", "seed"):
        if res.get(key) is not None and not _whole(res[key]):
            return f"{key} {json_text(res[key])} is not a whole number"
    if res.get("status", "completed") != "completed":
        return None
    for key in ("num_test", "num_train"):
        x = res.get(key)
        if x is not None and not (_whole(x) and x > 0):
            return f"{key} {json_text(x)} is not a positive whole number of clips"
    n_test = None if res.get("num_test") is None else int(res["num_test"])
    for key in (HEADLINE, BEST_ON_TEST):
        if res.get(key) is not None:
            found = _accuracy_problem(key, res[key], n_test)
            if found:
                return found
    return None


def _read_results(path: Path) -> tuple[dict[str, Any] | None, str | None]:
    """A results.json and the problem with it, if any (not JSON, not readable, bad values)."""
    try:
        res = read_json(path)
    except (OSError, ValueError) as e:  # ValueError: JSONDecodeError, UnicodeDecodeError
        return None, f"is not readable JSON ({str(e).splitlines()[0][:120]}): truncated or damaged"
    found = problem(res)
    return (res if isinstance(res, dict) else None), found


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
        results, found = None, None
        try:
            if ov_file.exists():
                lines = OmegaConf.to_container(OmegaConf.load(ov_file)) or []
                overrides = {k: v[0] for k, v in _parse_overrides(list(lines)).items()}
        except (OSError, ValueError, TypeError, yaml.YAMLError, HydraException,
                OmegaConfBaseException) as e:  # fmt: skip
            found = f"{ov_file}: cannot be read as Hydra overrides ({type(e).__name__})"
        if (d / RESULTS_FILE).exists() and found is None:
            results, found = _read_results(d / RESULTS_FILE)
            found = found and f"{d / RESULTS_FILE}: {found}"
        fold = (results or {}).get("fold", overrides.get(FOLD_KEY))
        seed = (results or {}).get("seed")
        seed = seed if seed is not None else overrides.get(SEED_KEY, 0)
        try:
            fold, seed = (int(fold) if fold is not None else None), int(seed)
        except ValueError:
            found = found or f"{d}: fold {fold!r} or seed {seed!r} is not a whole number"
            fold, seed = None, 0
        jobs.append(Job(d, overrides, fold, results, seed, found))
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
    """results.json under the given run or sweep folders, grouped by configuration; files with
    a problem (`problem`) are left out with a warning."""
    groups: dict[str, list[float]] = defaultdict(list)
    for p in paths:
        p = Path(p)
        files = [p] if p.is_file() else sorted(p.rglob(RESULTS_FILE))
        for f in files:
            res, found = _read_results(f)
            if found or res is None:
                log.warning("left out %s: %s", f, found)
            elif (
                res.get("status", "completed") == "completed"
                and res.get(HEADLINE) is not None
                and res.get("fold") is not None
            ):
                groups[config_label(res)].append(float(res[HEADLINE]))
    if not groups:
        where = ", ".join(map(str, paths))
        raise FpamError(f"no completed results.json with test_acc under {where}")
    return dict(groups)
