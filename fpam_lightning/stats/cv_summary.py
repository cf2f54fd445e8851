"""Cross-validation summary of sweeps as data: one row per configuration, one column per fold.

From every job's `results.json` under one or more multirun folders: mean ± std and a 95 %
interval of the mean, with seeds (`seed=0,1,2`) as a second axis beside the folds, paired
comparisons of rows that differ in one setting (`compare`) and the paper's tables (`paper`).
The headline is the last epoch's accuracy on the held-out fold; the best epoch picked on the test
fold (the paper's practice) is shown apart, labelled. Works on incomplete sweeps: expected folds
without a finished job are listed as missing, failed jobs with their error, and means cover
finished folds only.

Pipeline: `runs.collect_jobs` (one `Job` per job folder) -> `runs.expected_grid` (from
multirun.yaml, `merged_grid` for several sweeps) -> `build_summary` (-> `as_steps` for a
cumulative ablation). Per-job artefacts other than results.json (pooled out-of-fold predictions,
and statistics over a row's folds) are fed by the `Job.dir` of each row's completed jobs
(`Row.jobs`, `job_dirs` in the summary). Writing the files, the pooled reports, W&B and the Hydra
callback are `reporting`'s (`reporting.cv_report`).
"""

from __future__ import annotations

import itertools
import statistics
from collections import Counter
from collections.abc import Sequence
from dataclasses import astuple, dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

from ..utils.errors import FpamError
from ..utils.provenance import mismatches, provenance
from .compare import comparisons, step_comparisons
from .crossval import VERDICT_RULE, Score, mean_interval, row_spread, score_of
from .paper import paper_tables
from .runs import AXES, BEST_ON_TEST, FOLD_KEY, HEADLINE, Job, expected_grid

IDENTITY = ("dataset", "backbone", "attention", "variant", "mixup")  # copied from results.json


@dataclass
class Row:
    """One configuration of the grid across its folds."""

    params: dict[str, str]
    acc: dict[tuple[int, int], float] = field(default_factory=dict)  # (fold, seed) -> accuracy
    scores: dict[tuple[int, int], Score] = field(default_factory=dict)  # the same, in clips
    best_on_test: dict[tuple[int, int], float] = field(default_factory=dict)
    jobs: list[Job] = field(default_factory=list)
    used: list[Job] = field(default_factory=list)  # one completed job per (fold, seed)
    no_accuracy: list[Job] = field(default_factory=list)  # completed, no held-out accuracy
    repeats: list[Job] = field(default_factory=list)  # a (fold, seed) already read
    excluded: list[Job] = field(default_factory=list)  # values that cannot be used (`problem`)
    failed: dict[int, str] = field(default_factory=dict)

    @property
    def label(self) -> str:
        return " ".join(f"{k}={v}" for k, v in self.params.items()) or "(single configuration)"

    def add(self, job: Job) -> None:
        self.jobs.append(job)
        res = job.results or {}
        key = (job.fold, job.seed)
        if job.problem is not None:
            self.excluded.append(job)
        elif job.status == "completed" and job.fold is not None and res.get(HEADLINE) is None:
            self.no_accuracy.append(job)  # a search trial: counted, never averaged
        elif job.status == "completed" and job.fold is not None and key in self.acc:
            self.repeats.append(job)  # overlapping sweeps: the first run read counts
        elif job.status == "completed" and job.fold is not None:
            self.used.append(job)
            self.acc[key] = float(res[HEADLINE])
            self.scores[key] = run_score(res)
            if res.get(BEST_ON_TEST) is not None:
                self.best_on_test[key] = float(res[BEST_ON_TEST])
        elif job.status == "failed" and job.fold is not None:
            self.failed[job.fold] = str(res.get("error", "unknown error"))


def run_score(res: dict[str, Any]) -> Score:
    """A run's held-out accuracy as clips right of clips tested (and trained on); its values
    were checked when it was read (`runs.problem`).

    Runs that do not record `num_test` keep their accuracy as a fraction, with no training
    size: no corrected t can be computed for them.
    """
    acc, total = float(res[HEADLINE]), res.get("num_test")
    if total:
        train = res.get("num_train")
        return score_of(acc, int(total), None if train is None else int(train))
    exact = Fraction(acc).limit_denominator(10_000)
    return Score(exact.numerator, exact.denominator, None)


# --- the summary ----------------------------------------------------------------------------------
def _mean_std(values: list[float]) -> tuple[float | None, float | None]:
    if not values:
        return None, None
    return statistics.fmean(values), statistics.stdev(values) if len(values) > 1 else None


def _per_fold(values: dict[tuple[int, int], float]) -> dict[int, float]:
    """Each fold's accuracy averaged over its seeds, so that every fold counts once."""
    by_fold: dict[int, list[float]] = {}
    for (fold, _seed), v in values.items():
        by_fold.setdefault(fold, []).append(v)
    return {f: statistics.fmean(v) for f, v in sorted(by_fold.items())}


def _dims_and_folds(jobs: list[Job], grid: dict[str, list[str]]) -> tuple[list[str], list[int]]:
    """The swept keys other than folds and seeds: the grid's, and any that differ between jobs.

    Jobs of several sweeps joined into one summary differ in what their sweeps fixed (an
    experiment, a data set): those keys become dimensions too.
    """
    dims = [k for k in grid if k not in AXES]
    keys = sorted({k for j in jobs for k in j.overrides} - set(AXES) - set(dims))
    dims += [k for k in keys if len({j.overrides.get(k) for j in jobs}) > 1]
    folds = sorted(
        {int(f) for f in grid.get(FOLD_KEY, [])} | {j.fold for j in jobs if j.fold is not None}
    )
    return dims, folds


def _grid_rows(
    jobs: list[Job], grid: dict[str, list[str]], dims: list[str], whole_grid: bool = True
) -> list[Row]:
    """Every configuration of the grid, started or not, then any other the jobs ran."""
    rows: dict[tuple, Row] = {}
    for combo in itertools.product(*(grid[k] for k in dims if k in grid)):
        if whole_grid and grid and len(combo) == len(dims):  # the whole grid, started or not
            rows[combo] = Row(dict(zip(dims, combo, strict=True)))
    for job in jobs:
        key = tuple(job.overrides.get(k, "?") for k in dims)
        rows.setdefault(key, Row(dict(zip(dims, key, strict=True)))).add(job)
    return list(rows.values())


def _row_summary(row: Row, folds: list[int]) -> dict[str, Any]:
    acc, best = _per_fold(row.acc), _per_fold(row.best_on_test)
    mean, std = _mean_std(list(acc.values()))
    b_mean, b_std = _mean_std(list(best.values()))
    done = row.used
    first = done[0].results if done else {}
    dataset = first.get("dataset")
    scores = {(dataset, f, s): v for (f, s), v in row.scores.items()}
    spread = row_spread(scores) if scores else {"interval": mean_interval([]).as_dict()}
    seeds_per_fold = Counter(f for f, _ in row.acc)
    label = row.label
    if not row.params and first:  # nothing swept but the folds: name the model instead
        label = f"{first.get('backbone')} + {first.get('attention')}" + (
            " + mixup" if first.get("mixup") else ""
        )
    return {
        "configuration": label,
        "params": row.params,
        **{k: first.get(k) for k in IDENTITY},
        "folds": {str(f): acc.get(f) for f in folds},
        "mean": mean,
        "std": std,
        "interval": spread["interval"],
        "seed_sd": spread.get("seed_sd"),
        "seeds": sorted({seed for _, seed in row.acc}),
        "seeds_per_fold": {str(f): seeds_per_fold[f] for f in sorted(seeds_per_fold)},
        "unequal_seeds": len(set(seeds_per_fold.values())) > 1,
        "runs": {f"{dataset}/{j.fold}/{j.seed}": row.acc[(j.fold, j.seed)] for j in done},
        "scores": {
            f"{dataset}/{j.fold}/{j.seed}": list(astuple(row.scores[(j.fold, j.seed)]))
            for j in done
        },
        "provenance": {
            f"{dataset}/{j.fold}/{j.seed}": _origin(j.results.get("provenance")) for j in done
        },
        "no_accuracy": [str(j.dir) for j in row.no_accuracy],
        "excluded": [{"job_dir": str(j.dir), "problem": j.problem} for j in row.excluded],
        "repeats": [str(j.dir) for j in row.repeats],
        "best_epoch_folds": {str(f): best.get(f) for f in folds},
        "best_epoch_mean": b_mean,
        "best_epoch_std": b_std,
        "n_completed": len(acc),
        "n_runs": len(row.acc),
        "n_expected": len(folds),
        "missing_folds": [f for f in folds if f not in acc],
        "failed_folds": sorted(row.failed),
        "job_dirs": [str(j.dir) for j in done],
        "job_folds": [j.fold for j in done],
        "job_seeds": [j.seed for j in done],
    }


def _origin(record: dict[str, Any] | None) -> dict[str, Any] | None:
    """What pairing needs of a run's provenance: its commit, dirty flag and data hash."""
    if not record:
        return None
    data = record.get("data") or {}
    return {"commit": record.get("commit"), "dirty": record.get("dirty"),
            "data": {"sha256": data.get("sha256"), "clips": data.get("clips")}}  # fmt: skip


def _notes(rows: list[dict[str, Any]], read_twice: int) -> list[str]:
    """What the summary set aside or could not vouch for, one line each."""
    notes = []
    if read_twice:
        notes.append(
            f"{read_twice} job folder(s) were given more than once (the same sweep joined "
            "twice, or nested sweep folders): each is counted once"
        )
    repeats = sum(len(r["repeats"]) for r in rows)
    if repeats:
        notes.append(
            f"{repeats} run(s) repeat a configuration, fold and seed already read (overlapping "
            "sweeps): the first read is counted, the repeats are left out of every mean, test "
            "and pooled prediction"
        )
    no_acc = sum(len(r["no_accuracy"]) for r in rows)
    if no_acc:
        notes.append(
            f"{no_acc} completed run(s) have no held-out accuracy (search trials, which never "
            "test on the held-out fold): counted, and left out"
        )
    excluded = sum(len(r["excluded"]) for r in rows)
    if excluded:
        notes.append(
            f"{excluded} run(s) excluded: their files hold values that cannot be used (listed "
            "under Excluded runs, one line each); left out of every mean and test"
        )
    unequal = [r["configuration"] for r in rows if r["unequal_seeds"]]
    if unequal:
        notes.append(f"unequal numbers of seeds per fold in: {', '.join(unequal)}")
    origins = [o for r in rows for o in r["provenance"].values()]
    warn = mismatches(origins) if any(origins) else []
    if warn:
        notes.append("the runs come from " + "; ".join(warn))
    elif origins and not any(origins):
        notes.append("the runs record no provenance (commit, packages, data): older than it")
    return notes


def _unique(jobs: list[Job]) -> tuple[list[Job], int]:
    seen: set[Path] = set()
    out = []
    for j in jobs:
        d = Path(j.dir).resolve()
        if d not in seen:
            seen.add(d)
            out.append(j)
    return out, len(jobs) - len(out)


def _failed_and_unfinished(row: Row, label: str) -> tuple[list[dict], list[dict]]:
    failed = [
        {
            "configuration": label,
            "fold": j.fold,
            "job_dir": str(j.dir),
            "error": str((j.results or {}).get("error", "unknown error")),
        }
        for j in row.jobs
        if j.status == "failed"
    ]
    unfinished = [
        {"configuration": label, "status": j.status, "fold": j.fold, "job_dir": str(j.dir)}
        for j in row.jobs
        if j.status not in ("completed", "failed", "excluded")
    ]
    return failed, unfinished


def build_summary(
    jobs: list[Job],
    grid: dict[str, list[str]],
    sweep_dir: str | Path = "",
    whole_grid: bool = True,
) -> dict[str, Any]:
    """Rows of the grid (from multirun.yaml, else from the jobs' varying overrides) x folds."""
    jobs, read_twice = _unique(jobs)
    dims, folds = _dims_and_folds(jobs, grid)
    out_rows, failed, unfinished = [], [], []
    for row in _grid_rows(jobs, grid, dims, whole_grid):
        out_rows.append(_row_summary(row, folds))
        f, u = _failed_and_unfinished(row, out_rows[-1]["configuration"])
        failed += f
        unfinished += u
    complete = all(not r["missing_folds"] for r in out_rows) and bool(out_rows)
    return {
        "sweep_dir": str(sweep_dir),
        "metric": f"{HEADLINE}: accuracy of the last epoch's weights on the held-out fold",
        "interval": "95% Student-t interval of the mean over folds (each fold averaged over "
        "seeds); none from one fold or without spread",
        "seed_sd": "seed-to-seed standard deviation, pooled within folds: training noise, apart",
        "test": "paired over folds, each fold's difference the mean over its shared seeds, in "
        "clips, with at least the variance its clips imply; headline: the corrected resampled t "
        "(Nadeau-Bengio, n_test/n_train from the runs), Holm across each table's comparisons; "
        "`corrected` holds the comparison's own 95% interval, `holm_interval` the Holm-adjusted "
        "one (step-matched), `resolvable` the smallest difference it could call real and "
        "`needed` what 80% power at the observed difference would need",
        "verdict_rule": VERDICT_RULE,
        "best_epoch_metric": f"{BEST_ON_TEST}: best epoch chosen on the held-out fold itself "
        "(the paper's practice; optimistic)",
        "std": "sample standard deviation over finished folds (n-1); null with one fold",
        "averaged_over": "finished folds only; missing and failed folds are listed, not averaged",
        "complete": complete,
        "folds": folds,
        "dims": dims,
        "rows": out_rows,
        "comparisons": comparisons(out_rows, grid),
        "paper_tables": paper_tables(out_rows),
        "failed": failed,
        "unfinished": unfinished,
        "excluded": [
            {"configuration": r["configuration"], **e} for r in out_rows for e in r["excluded"]
        ],  # fmt: skip
        "notes": _notes(out_rows, read_twice),
        "provenance": {**provenance(), "runs": _run_origins(out_rows)},
    }


def _run_origins(rows: list[dict[str, Any]]) -> dict[str, dict[str, int]]:
    """How many runs each commit and each data fingerprint made (None: not recorded)."""
    origins = [o for r in rows for o in r["provenance"].values()]
    commits = Counter(str((o or {}).get("commit")) for o in origins)
    data = Counter(str(((o or {}).get("data") or {}).get("sha256")) for o in origins)
    return {"commits": dict(commits), "data": dict(data)}


# --- several sweeps ------------------------------------------------------------------------------
def merged_grid(sweep_dirs: Sequence[Path]) -> dict[str, list[str]]:
    """The swept keys of several sweeps, each key's values in first-seen order."""
    grid: dict[str, list[str]] = {}
    for d in sweep_dirs:
        for k, values in expected_grid(d).items():
            grid.setdefault(k, [])
            grid[k] += [v for v in values if v not in grid[k]]
    return grid


def as_steps(summary: dict[str, Any], dirs: Sequence[Path]) -> None:
    """Read joined sweeps as the steps of a cumulative ablation, in the order given.

    Each sweep must hold one configuration (its folds and seeds); its row takes the sweep
    folder's name, and the comparisons become step against previous step (`step_comparisons`).
    """
    if len(dirs) < 2:
        raise FpamError("steps need two sweeps or more, one per step, in order")
    rows = summary["rows"]
    steps = []
    for d in dirs:
        own = [r for r in rows if any(Path(j).is_relative_to(d) for j in r["job_dirs"])]
        if len(own) != 1:
            raise FpamError(
                f"a step is one configuration (folds and seeds only), but {d} holds {len(own)} "
                "with finished jobs"
            )
        if any(own[0] is r for r in steps):
            raise FpamError(f"{d} repeats the configuration of an earlier step")
        steps.append(own[0])
    for d, row in zip(dirs, steps, strict=True):
        row["configuration"] = d.name
    summary["rows"] = steps + [r for r in rows if not any(r is t for t in steps)]  # unfinished
    summary["design"] = "steps"
    summary["comparisons"] = step_comparisons(steps)
