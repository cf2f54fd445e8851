"""Cross-validation summary of sweeps: one row per configuration, one column per fold.

Reads every job's `results.json` under one or more multirun folders and writes `cv_summary.json`,
`cv_summary.md` and `cv_summary.png` (a box plot of fold accuracies): mean ± std and a 95 %
interval of the mean, with seeds (`seed=0,1,2`) as a second axis beside the folds, paired
comparisons of rows that differ in one setting (`compare`) and the paper's tables (`paper`).
The headline is the last epoch's accuracy on the held-out fold; the best epoch picked on the test
fold (the paper's practice) is shown apart, labelled. Works on incomplete sweeps: expected folds
without a finished job are listed as missing, failed jobs with their error, and means cover
finished folds only.

Pipeline: `sweep.collect_jobs` (one `Job` per job folder) -> `sweep.expected_grid` (from
multirun.yaml) -> `build_summary` -> `pool_predictions` -> `write_summary`. Per-job artefacts
other than results.json (pooled out-of-fold predictions, and statistics over a row's folds) are
fed by the `Job.dir` of each row's completed jobs (`Row.jobs`, `job_dirs` in the summary).

The same code runs as a Hydra callback (`CVSummaryCallback`, registered in conf/hydra) when a
multirun ends, and from the command line (`python -m fpam_lightning.summarize DIR`).
"""

from __future__ import annotations

import itertools
import logging
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from omegaconf import DictConfig

from ..utils.errors import FpamError
from ..utils.io import write_json_atomic, write_text_atomic
from .compare import comparisons, step_comparisons
from .markdown import to_markdown
from .paper import paper_tables
from .stats import mean_interval
from .sweep import AXES, FOLD_KEY, Job, collect_jobs, expected_grid

log = logging.getLogger("fpam_lightning")

SUMMARY_JSON, SUMMARY_MD, SUMMARY_PNG = "cv_summary.json", "cv_summary.md", "cv_summary.png"
HEADLINE = "test_acc"  # last epoch, held-out fold
BEST_ON_TEST = "best_epoch_test_acc"  # the epoch picked on the held-out fold: optimistic
IDENTITY = ("dataset", "backbone", "attention", "variant", "mixup")  # copied from results.json


@dataclass
class Row:
    """One configuration of the grid across its folds."""

    params: dict[str, str]
    acc: dict[tuple[int, int], float] = field(default_factory=dict)  # (fold, seed) -> accuracy
    best_on_test: dict[tuple[int, int], float] = field(default_factory=dict)
    jobs: list[Job] = field(default_factory=list)
    failed: dict[int, str] = field(default_factory=dict)

    @property
    def label(self) -> str:
        return " ".join(f"{k}={v}" for k, v in self.params.items()) or "(single configuration)"

    def add(self, job: Job) -> None:
        self.jobs.append(job)
        res = job.results or {}
        if job.status == "completed" and job.fold is not None and res.get(HEADLINE) is not None:
            self.acc[(job.fold, job.seed)] = float(res[HEADLINE])
            if res.get(BEST_ON_TEST) is not None:
                self.best_on_test[(job.fold, job.seed)] = float(res[BEST_ON_TEST])
        elif job.status == "failed" and job.fold is not None:
            self.failed[job.fold] = str(res.get("error", "unknown error"))


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
    done = [j for j in row.jobs if j.status == "completed"]
    first = done[0].results if done else {}
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
        "interval": mean_interval(list(acc.values())).as_dict(),
        "seeds": sorted({seed for _, seed in row.acc}),
        "runs": {
            f"{first.get('dataset')}/{j.fold}/{j.seed}": row.acc[(j.fold, j.seed)] for j in done
        },
        "best_epoch_folds": {str(f): best.get(f) for f in folds},
        "best_epoch_mean": b_mean,
        "best_epoch_std": b_std,
        "n_completed": len(acc),
        "n_runs": len(row.acc),
        "n_expected": len(folds),
        "missing_folds": [f for f in folds if f not in acc],
        "failed_folds": sorted(row.failed),
        "job_dirs": [str(j.dir) for j in done],
        "job_seeds": [j.seed for j in done],
    }


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
        if j.status not in ("completed", "failed")
    ]
    return failed, unfinished


def build_summary(
    jobs: list[Job],
    grid: dict[str, list[str]],
    sweep_dir: str | Path = "",
    whole_grid: bool = True,
) -> dict[str, Any]:
    """Rows of the grid (from multirun.yaml, else from the jobs' varying overrides) x folds."""
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
        "interval": "95% Student-t interval of the mean over folds (each fold averaged over seeds)",
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
    }


# --- files ----------------------------------------------------------------------------------------
def box_plot(summary: dict[str, Any], path: Path) -> None:
    """The tutorial's figure: fold accuracies per configuration, one box each."""
    from .plots import box_figure, save

    rows = [r for r in summary["rows"] if r["n_completed"]]
    groups = {r["configuration"]: [v for v in r["folds"].values() if v is not None] for r in rows}
    datasets = ", ".join(sorted({str(r["dataset"]) for r in rows if r.get("dataset")}))
    save(box_figure(groups, f"fold accuracies, {datasets}" if datasets else ""), path)


def write_summary(summary: dict[str, Any], out_dir: str | Path) -> dict[str, Path]:
    out_dir = Path(out_dir)
    paths = {
        "json": out_dir / SUMMARY_JSON,
        "md": out_dir / SUMMARY_MD,
        "png": out_dir / SUMMARY_PNG,
    }
    write_json_atomic(paths["json"], summary)
    write_text_atomic(paths["md"], to_markdown(summary))
    box_plot(summary, paths["png"])
    return paths


def pool_predictions(summary: dict[str, Any], sweep_dir: Path) -> None:
    """Per configuration, merge its folds' out-of-fold predictions into one pooled report.

    Jobs write `predictions.csv` through the `OutOfFoldPredictions` callback (on by default);
    the pooled report, confusion matrix and accuracy go to `<sweep>/pooled/<row>/`.
    """
    from .reports import PREDICTIONS_FILE, pooled_report

    for i, row in enumerate(summary["rows"]):
        dirs = [d for d in row["job_dirs"] if (Path(d) / PREDICTIONS_FILE).is_file()]
        row["pooled"] = None
        if not dirs:
            continue
        out = sweep_dir / "pooled" / f"row{i:02d}"
        rep = pooled_report(dirs, out, f"{row['configuration']}: out-of-fold, pooled over folds")
        row["pooled"] = {
            "dir": str(out),
            "accuracy": rep["accuracy"],
            "macro_f1": rep["macro_f1"],
            "num_clips": rep["num_clips"],
            "folds": rep["folds"],
        }


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


def summarize(
    sweep_dirs: str | Path | Sequence[str | Path],
    out_dir: str | Path | None = None,
    steps: bool = False,
) -> dict[str, Any]:
    """Collect, summarise and write the cross-validation summary of one or several sweeps.

    Several sweeps (run separately, say the FPAM sweep and the baseline sweep) join into one
    report, written to `out_dir` (default: the first sweep); their rows are the configurations
    the jobs ran, paired by data set, fold and seed. With `steps`, the sweeps are the steps of
    a cumulative ablation in that order (`as_steps`).
    """
    dirs = (
        [Path(sweep_dirs)] if isinstance(sweep_dirs, (str, Path)) else list(map(Path, sweep_dirs))
    )
    out = Path(out_dir) if out_dir is not None else dirs[0]
    jobs = [j for d in dirs for j in collect_jobs(d)]
    grid = merged_grid(dirs)
    label = ", ".join(map(str, dirs))
    summary = build_summary(jobs, grid, label, whole_grid=len(dirs) == 1)
    if steps:
        as_steps(summary, dirs)
    pool_predictions(summary, out)
    write_summary(summary, out)
    return summary


# --- W&B and the Hydra callback -------------------------------------------------------------------
WANDB_COLUMNS = ("mean", "std", "best_epoch_mean", "n_completed", "n_expected")


def _wandb_table(summary: dict[str, Any]):
    """The summary table: configuration, each fold's accuracy, then `WANDB_COLUMNS`."""
    import wandb

    folds = summary["folds"]
    table = wandb.Table(columns=["configuration", *[f"fold {f}" for f in folds], *WANDB_COLUMNS])
    for r in summary["rows"]:
        table.add_data(
            r["configuration"], *[r["folds"][str(f)] for f in folds], *[r[k] for k in WANDB_COLUMNS]
        )
    return table


def _wandb_verdicts(summary: dict[str, Any]) -> dict[str, Any]:
    """The paired comparisons and the paper's tables, so the dashboard shows the verdict."""
    import wandb

    from .markdown import comparison_lines, paper_table_lines

    out: dict[str, Any] = {}
    cols = ["candidate", "reference", "paired", "difference", "ci_low", "ci_high", "n_pairs",
            "p_ttest", "p_wilcoxon", "significant", "mcnemar_p_per_seed"]  # fmt: skip
    comps = summary.get("comparisons") or []
    if comps:
        table = wandb.Table(columns=cols)
        for c in comps:
            d = c.get("difference") or {}
            table.add_data(
                c["candidate"], c["reference"], c["paired"], d.get("mean"), d.get("low"),
                d.get("high"), d.get("n", 0), d.get("p_ttest"), d.get("p_wilcoxon"),
                d.get("significant"), str([t["p_value"] for t in c.get("mcnemar", [])]),
            )  # fmt: skip
        out["comparisons"] = table
    text = "\n".join(comparison_lines(summary) + paper_table_lines(summary))
    if text.strip():
        out["verdict"] = wandb.Html(f"<pre>{text}</pre>")
    return out


def log_summary_to_wandb(summary: dict[str, Any], config: DictConfig) -> str | None:
    """A small run of job_type 'summary' in the sweep's group, holding the table and the plot."""
    w = (config.get("logger") or {}).get("wandb")
    if not w:
        return None
    import wandb

    from ..training.loggers import group_name, open_wandb_run

    sweep_dir = Path(config.hydra.sweep.dir)
    run = open_wandb_run(
        w,
        job_type="summary",
        name=f"{config.experiment}-cv-summary",
        group=group_name(str(config.experiment), sweep_dir),
        tags=[str(config.experiment)],
        dir=sweep_dir,
    )
    try:
        run.log({"cv_summary": _wandb_table(summary), **_wandb_verdicts(summary)})
        png = sweep_dir / SUMMARY_PNG
        if png.exists():
            run.log({"cv_box_plot": wandb.Image(str(png))})
        for r in summary["rows"]:
            run.summary[f"cv/{r['configuration']}/mean"] = r["mean"]
            run.summary[f"cv/{r['configuration']}/n_completed"] = r["n_completed"]
        return run.id
    finally:
        run.finish()


try:  # Hydra callbacks are optional at import time so the CLI never needs a Hydra run
    from hydra.experimental.callback import Callback as _HydraCallback
except ImportError:  # pragma: no cover
    _HydraCallback = object  # type: ignore[assignment,misc]


class CVSummaryCallback(_HydraCallback):
    """Writes the cross-validation summary into the sweep folder when a multirun ends."""

    def __init__(self, wandb: bool = True) -> None:
        self.wandb = wandb

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        from ..training.search import is_optuna

        sweep_dir = Path(config.hydra.sweep.dir)
        if is_optuna(config.hydra.sweeper):  # trials are scored on the inner split only
            log.info("a search never reads the held-out fold: no cross-validation summary")
            return
        try:
            summary = summarize(sweep_dir)
        except Exception:  # a summary must never turn a finished sweep into a failure
            log.exception("cross-validation summary of %s failed", sweep_dir)
            return
        log.info("cross-validation summary -> %s\n%s", sweep_dir / SUMMARY_MD, to_markdown(summary))
        if self.wandb:
            try:
                log_summary_to_wandb(summary, config)
            except Exception:
                log.exception("logging the summary to W&B failed")
