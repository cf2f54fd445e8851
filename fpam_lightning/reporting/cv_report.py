"""The cross-validation summary's files: cv_summary.json, .md and .png and the pooled reports.

`summarize` collects the jobs of one or more sweeps (`stats.runs`), builds the summary as data
(`stats.cv_summary`), merges each configuration's out-of-fold predictions into one report under
`<sweep>/pooled/` (`fold_report.pooled_report`) and writes the summary beside them, the box plot
drawn by `plotting`. The same function runs as a Hydra callback when a multirun ends
(`hydra_callbacks.CVSummaryCallback`) and from the command line
(`python -m fpam_lightning.summarize DIR`).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..stats.cv_summary import as_steps, build_summary, merged_grid
from ..stats.markdown import to_markdown
from ..stats.runs import collect_jobs
from ..utils.io import write_json_atomic, write_text_atomic
from ..utils.run_files import PREDICTIONS_FILE
from .fold_report import pooled_report

SUMMARY_JSON, SUMMARY_MD, SUMMARY_PNG = "cv_summary.json", "cv_summary.md", "cv_summary.png"


def write_summary(summary: dict[str, Any], out_dir: str | Path) -> dict[str, Path]:
    from ..plotting.run_figures import cv_box_plot  # Matplotlib only once there is a summary

    out_dir = Path(out_dir)
    paths = {
        "json": out_dir / SUMMARY_JSON,
        "md": out_dir / SUMMARY_MD,
        "png": out_dir / SUMMARY_PNG,
    }
    write_json_atomic(paths["json"], summary)
    write_text_atomic(paths["md"], to_markdown(summary))
    cv_box_plot(summary, paths["png"])
    return paths


def pool_predictions(summary: dict[str, Any], sweep_dir: Path) -> None:
    """Per configuration, merge its folds' out-of-fold predictions into one pooled report.

    Jobs write `predictions.csv` through the `OutOfFoldPredictions` callback (on by default);
    the pooled report, confusion matrix and accuracy go to `<sweep>/pooled/<row>/`.
    """
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
