"""The cross-validation summary on W&B: a run of job_type 'summary' in the sweep's group.

It holds the summary table (each fold's accuracy per configuration), the paired comparisons and
the paper's tables as a verdict, and the box plot written by `cv_report`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from omegaconf import DictConfig

from .cv_report import SUMMARY_PNG

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

    from ..stats.markdown import comparison_lines, paper_table_lines

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
