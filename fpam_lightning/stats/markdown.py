"""The cross-validation summary as markdown: the table, the comparisons and the paper's tables."""

from __future__ import annotations

import math
from typing import Any


def pct(x: float | None) -> str:
    return "–" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{100 * x:.1f}"


def pm(mean: float | None, std: float | None) -> str:
    if mean is None:
        return "–"
    return f"{pct(mean)} ± {pct(std)}" if std is not None else pct(mean)


def interval(ci: dict[str, Any] | None) -> str:
    if not ci or ci.get("low") is None or ci.get("n", 0) < 2:
        return "–"
    return f"[{pct(ci['low'])}, {pct(ci['high'])}]"


def signed(x: float | None) -> str:
    return "–" if x is None else f"{100 * x:+.1f}"


def p_value(p: float | None) -> str:
    if p is None:
        return "–"
    return "<0.001" if p < 0.001 else f"{p:.3f}"


def verdict(significant: bool | None) -> str:
    return {True: "yes", False: "no", None: "–"}[significant]


def _table(summary: dict[str, Any]) -> list[str]:
    folds = summary["folds"]
    head = [
        "configuration",
        "dataset",
        *[f"fold {f}" for f in folds],
        "mean ± std",
        "95% CI of the mean",
        "seeds",
        "best-epoch-on-test mean ± std",
        "folds done",
    ]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in summary["rows"]:
        cells = [
            r["configuration"],
            str(r.get("dataset") or "–"),
            *[pct(r["folds"][str(f)]) for f in folds],
            pm(r["mean"], r["std"]),
            interval(r.get("interval")),
            ",".join(str(s) for s in r.get("seeds", [])) or "–",
            pm(r["best_epoch_mean"], r["best_epoch_std"]),
            f"{r['n_completed']}/{r['n_expected']}",
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def _pooled_notes(summary: dict[str, Any]) -> list[str]:
    pooled = [r for r in summary["rows"] if r.get("pooled")]
    if not pooled:
        return []
    return [
        "",
        "**Pooled out-of-fold predictions** (every clip scored once per seed, by the model "
        "that held out its fold; per-class report and confusion matrix in the folder):",
        *[
            f"- {r['configuration']}: accuracy {pct(r['pooled']['accuracy'])}, macro F1 "
            f"{pct(r['pooled']['macro_f1'])} over {r['pooled']['num_clips']} predictions, folds "
            f"{r['pooled']['folds']} ({r['pooled']['dir']})"
            for r in pooled
        ],
    ]


def _mcnemar(tests: list[dict[str, Any]]) -> str:
    if not tests:
        return "– (no predictions.csv)"
    return "; ".join(
        f"seed {t['seed']}: +{t['candidate_only']}/-{t['reference_only']} of {t['n_clips']}, "
        f"p {p_value(t['p_value'])}"
        for t in tests
    )


def comparison_lines(summary: dict[str, Any]) -> list[str]:
    comps = summary.get("comparisons") or []
    if not comps:
        return []
    head = "| candidate | reference | difference (points) | 95% CI | pairs | paired t p | "
    head += "Wilcoxon p | significant | McNemar per seed (clips gained/lost) |"
    title = "**Paired comparisons** (candidate − reference; "
    title += (
        "each step against the one before, and the last against the first, "
        if summary.get("design") == "steps"
        else "rows that differ in one setting, "
    )
    title += "paired on data set, fold and seed):"
    lines = ["", title, "", head, "|" + "---|" * 9]
    for c in comps:
        if not c["paired"]:
            lines.append(
                f"| {c['candidate']} | {c['reference']} | not paired: {c['reason']} "
                "| – | 0 | – | – | – | – |"
            )
            continue
        d = c["difference"]
        lines.append(
            f"| {c['candidate']} | {c['reference']} | {signed(d['mean'])} | "
            f"[{signed(d['low'])}, {signed(d['high'])}] | {d['n']} | {p_value(d['p_ttest'])} | "
            f"{p_value(d['p_wilcoxon'])} | {verdict(d['significant'])} | {_mcnemar(c['mcnemar'])} |"
        )
    return lines


def paper_table_lines(summary: dict[str, Any]) -> list[str]:
    lines: list[str] = []
    for t in summary.get("paper_tables") or []:
        lines += ["", f"**{t['title']}** ({t['group']}); accuracy %, ours with its 95% CI, "
                  "the paper's (ResNet50 from AudioSet weights) beside it; Δ against the first "
                  "row, paired:", ""]  # fmt: skip
        head = ["model", *[f"{d}: ours" for d in t["datasets"]]]
        head += [f"{d}: paper" for d in t["datasets"]]
        head += [f"{d}: Δ ours (p, significant)" for d in t["datasets"]]
        head += [f"{d}: Δ paper" for d in t["datasets"]]
        lines += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        for r in t["rows"]:
            cells = [r["model"]]
            cells += [
                f"{pct(c['mean'])} {interval(c['interval'])}" if c else "–"
                for c in r["ours"]
            ]  # fmt: skip
            cells += ["–" if v is None else f"{v:.1f}" for v in r["paper"]]
            cells += [_delta(d) for d in r["delta"]]
            cells += ["–" if v is None else f"{v:+.1f}" for v in r["paper_delta"]]
            lines.append("| " + " | ".join(cells) + " |")
    return lines


def _delta(d: dict[str, Any] | None) -> str:
    if not d:
        return "–"
    if not d.get("paired"):
        return f"not paired ({d.get('reason')})"
    diff = d["difference"]
    return (
        f"{signed(diff['mean'])} [{signed(diff['low'])}, {signed(diff['high'])}] "
        f"(p {p_value(diff['p_ttest'])}, {verdict(diff['significant'])})"
    )


def _gaps(summary: dict[str, Any]) -> list[str]:
    """Incomplete rows, failed jobs and unfinished jobs."""
    lines = []
    missing = [r for r in summary["rows"] if r["missing_folds"]]
    if missing:
        lines += ["", "**Incomplete:** means above cover finished folds only."]
        lines += [f"- {r['configuration']}: missing fold(s) {r['missing_folds']}" for r in missing]
    if summary["failed"]:
        lines += ["", "**Failed jobs:**"]
        lines += [
            f"- {f['configuration']} fold {f['fold']} ({f['job_dir']}): {f['error']}"
            for f in summary["failed"]
        ]
    if summary["unfinished"]:
        lines += ["", "**Unfinished jobs** (running, killed or preempted):"]
        lines += [
            f"- {u['configuration']} fold {u['fold']} ({u['status']}, {u['job_dir']})"
            for u in summary["unfinished"]
        ]
    return lines


READING = (
    "How to read it: a fold's accuracy is averaged over seeds first, so each fold counts once; "
    "the interval is Student's t over those fold means. A paired difference is taken between "
    "runs of the same fold and seed; p is the paired t-test (Wilcoxon's signed-rank beside it), "
    "and 'significant' means p < 0.05. Five folds are few and share training clips, so the "
    "intervals are approximate and optimistic; McNemar's test asks the same question clip by "
    "clip, one seed at a time."
)


def to_markdown(summary: dict[str, Any]) -> str:
    lines = [
        f"# Cross-validation summary: {summary['sweep_dir']}",
        "",
        "Accuracy (%) of the last epoch's weights on each held-out fold (averaged over seeds); "
        "mean ± sample std over finished folds. The best-epoch-on-test column lets the held-out "
        "fold pick the epoch (the paper's practice): optimistic, shown for comparison only.",
        "",
        *_table(summary),
        *_pooled_notes(summary),
        *comparison_lines(summary),
        *paper_table_lines(summary),
        *(["", READING] if summary.get("comparisons") or summary.get("paper_tables") else []),
        *_gaps(summary),
    ]
    return "\n".join(lines) + "\n"
