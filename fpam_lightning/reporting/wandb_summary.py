"""The cross-validation summary on W&B: a run of job_type 'summary' in the sweep's group.

It holds the summary table (each fold's accuracy per configuration), the paired comparisons and
the paper's tables as a verdict, and the box plot written by `cv_report`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from omegaconf import DictConfig

from .cv_report import SUMMARY_PNG

WANDB_COLUMNS = ("mean", "std", "seed_sd", "best_epoch_mean", "n_completed", "n_expected")
# ci_*: the corrected 95% interval of the comparison alone; holm_ci_*: at its Holm level, which
# agrees with `significant`; smallest_real_difference: that interval's half-width.
VERDICT_COLUMNS = ["candidate", "reference", "paired", "difference", "d_z", "n_folds",
                   "per_fold_clips", "ci_low", "ci_high", "p_corrected", "p_holm", "holm_level",
                   "holm_ci_low", "holm_ci_high", "significant", "smallest_real_difference",
                   "power_80_needs", "p_ttest", "p_wilcoxon", "wilcoxon_min_p", "seed_sd",
                   "mcnemar_p_per_seed", "clip_vote_p", "notes"]  # fmt: skip


def _wandb_table(summary: dict[str, Any]):
    """The summary table: configuration, each fold's accuracy, then `WANDB_COLUMNS`."""
    import wandb

    folds = summary["folds"]
    table = wandb.Table(columns=["configuration", *[f"fold {f}" for f in folds], *WANDB_COLUMNS])
    for r in summary["rows"]:
        table.add_data(
            r["configuration"],
            *[r["folds"][str(f)] for f in folds],
            *[r.get(k) for k in WANDB_COLUMNS],
        )
    return table


def _wandb_verdicts(summary: dict[str, Any]) -> dict[str, Any]:
    """The paired comparisons and the paper's tables, so the dashboard shows the verdict."""
    import wandb

    from ..stats.markdown import comparison_lines, paper_table_lines

    out: dict[str, Any] = {}
    comps = summary.get("comparisons") or []
    if comps:
        table = wandb.Table(columns=VERDICT_COLUMNS)
        for c in comps:
            table.add_data(*verdict_row(c))
        out["comparisons"] = table
    text = "\n".join(comparison_lines(summary) + paper_table_lines(summary))
    if text.strip():
        out["verdict"] = wandb.Html(f"<pre>{text}</pre>")
    return out


def verdict_row(c: dict[str, Any]) -> list[Any]:
    """One comparison as the values of `VERDICT_COLUMNS` (the headline test, Holm, the rest)."""
    from ..stats.markdown import needed

    d = c.get("difference") or {}
    corr, plain, vote = d.get("corrected") or {}, d.get("ttest") or {}, c.get("clip_vote") or {}
    holm = d.get("holm_interval") or {}
    notes = [*([d["undefined"]] if d.get("undefined") else []), *(c.get("notes") or []),
             *(c.get("provenance_warnings") or [])]  # fmt: skip
    return [
        c["candidate"], c["reference"], c["paired"], d.get("mean"), d.get("d_z"), d.get("n", 0),
        " ".join(f"{f['clips']:+g}" for f in d.get("per_fold", [])),
        corr.get("low"), corr.get("high"), corr.get("p"), d.get("p_holm"), d.get("holm_level"),
        holm.get("low"), holm.get("high"), d.get("significant"), d.get("resolvable"),
        needed(d) if d else "–", plain.get("p"), d.get("wilcoxon_p"), d.get("wilcoxon_min_p"),
        d.get("seed_sd"),
        str([t["p_value"] for t in c.get("mcnemar", [])]), vote.get("p_value"),
        "; ".join(notes) or (c.get("reason") or ""),
    ]  # fmt: skip


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
