"""The cross-validation summary as markdown: the table, the comparisons and the paper's tables.

Every table of comparisons is printed with the verdict rule (`crossval.VERDICT_RULE`), n (the
folds paired), the per-fold differences in clips, the headline (corrected) p with its Holm
adjustment beside it, and whatever makes a row less than it seems (unpaired runs, unequal seeds,
runs of other commits or data).
"""

from __future__ import annotations

import math
from typing import Any

from .crossval import VERDICT_RULE


def pct(x: float | None, digits: int = 1) -> str:
    return "–" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{100 * x:.{digits}f}"


def pm(mean: float | None, std: float | None) -> str:
    if mean is None:
        return "–"
    return f"{pct(mean)} ± {pct(std)}" if std is not None else pct(mean)


def _ends(low: float | None, high: float | None, fmt) -> str:
    """[low, high] with the fewest decimals (1 to 3) that tell its ends apart; – when none do,
    or there is no interval: never a zero-width interval."""
    if low is None or high is None:
        return "–"
    for digits in (1, 2, 3):
        a, b = fmt(low, digits), fmt(high, digits)
        if a != b:
            return f"[{a}, {b}]"
    return "–"


def interval(ci: dict[str, Any] | None) -> str:
    """A 95 % interval, or – where there is none (one fold, or no spread)."""
    return _ends((ci or {}).get("low"), (ci or {}).get("high"), pct)


def signed(x: float | None, digits: int = 1) -> str:
    return "–" if x is None else f"{100 * x:+.{digits}f}"


def signed_interval(low: float | None, high: float | None) -> str:
    return _ends(low, high, signed)


def p_value(p: float | None) -> str:
    if p is None:
        return "–"
    return "<0.001" if p < 0.001 else f"{p:.3f}"


def verdict(significant: bool | None) -> str:
    return {True: "yes", False: "no", None: "–"}[significant]


def clips(x: float | None) -> str:
    if x is None:
        return "?"
    return f"{x:+.0f}" if float(x).is_integer() else f"{x:+.2f}"


def _seeds(r: dict[str, Any]) -> str:
    text = ",".join(str(s) for s in r.get("seeds", [])) or "–"
    return text + (" (unequal per fold)" if r.get("unequal_seeds") else "")


def _table(summary: dict[str, Any]) -> list[str]:
    folds = summary["folds"]
    head = [
        "configuration",
        "dataset",
        *[f"fold {f}" for f in folds],
        "mean ± std over folds",
        "95% CI of the mean",
        "seed-to-seed sd",
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
            pct(r.get("seed_sd")),
            _seeds(r),
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


def _mcnemar(c: dict[str, Any]) -> str:
    tests = c.get("mcnemar") or []
    if not tests:
        return "– (no predictions.csv)"
    text = "; ".join(
        f"seed {t['seed']}: +{t['candidate_only']}/-{t['reference_only']} of {t['n_clips']}, "
        f"p {p_value(t['p_value'])}"
        for t in tests
    )
    v = c.get("clip_vote")
    if v and len(tests) > 1:
        text += (
            f"; clip vote over seeds {','.join(map(str, v['seeds']))}: +{v['candidate_only']}"
            f"/-{v['reference_only']} of {v['n_clips']}, p {p_value(v['p_value'])}"
        )
    return text


def _wilcoxon(d: dict[str, Any]) -> str:
    p, floor = d.get("wilcoxon_p"), d.get("wilcoxon_min_p")
    text = p_value(p)
    if floor is not None and floor >= 0.05:
        text += f" (min {floor:.3g} with these folds)"
    return text


def _per_fold(d: dict[str, Any]) -> str:
    return " ".join(clips(f["clips"]) for f in d["per_fold"])


def holm_interval(d: dict[str, Any]) -> str:
    h = d.get("holm_interval")
    if not h:
        return "–"
    return f"{signed_interval(h['low'], h['high'])} (level {h['level']:.3g})"


def resolvable(d: dict[str, Any]) -> str:
    """The smallest difference the comparison could have called real, at its Holm level."""
    return "–" if d.get("resolvable") is None else f"±{100 * d['resolvable']:.1f}"


def needed(d: dict[str, Any]) -> str:
    """What 80 % power at the observed difference needs, for an unresolved comparison."""
    need = d.get("needed")
    if not need:
        return "resolved" if d.get("significant") else "–"
    if need.get("why"):
        return need["why"]
    clips = need["clips_per_fold"]
    folds = need["folds"]
    per_fold = round(sum(f["n_test"] for f in d["per_fold"]) / len(d["per_fold"]))
    return (
        (f"{clips} clips per fold ({d['n']} folds)" if clips else
         "no number of clips per fold (the folds' own spread)")
        + " or " + (f"{folds} folds of {per_fold} clips" if folds else "over 1000 folds")
        + f" (power now {100 * need['power_now']:.0f}%)"
    )  # fmt: skip


def comparison_head() -> list[str]:
    return [
        "candidate", "reference", "difference (points)", "d_z", "folds (n)",
        "per-fold difference (clips)", "corrected 95% CI (this comparison alone)",
        "corrected t p", "Holm p", "Holm-adjusted CI (step-matched level)", "real?",
        "smallest real difference (points, Holm)", "80% power at this difference needs",
        "paired t p", "Wilcoxon p", "seed-to-seed sd", "McNemar (clips gained/lost)", "notes",
    ]  # fmt: skip


def comparison_cells(c: dict[str, Any]) -> list[str]:
    if not c["paired"]:
        return [c["candidate"], c["reference"], f"not paired: {c['reason']}", *["–"] * 14, ""]
    d = c["difference"]
    corr = d.get("corrected") or {}
    notes = [*(c.get("notes") or []), *(c.get("provenance_warnings") or [])]
    if d.get("undefined"):
        notes.insert(0, d["undefined"])
    return [
        c["candidate"],
        c["reference"],
        signed(d["mean"]),
        "–" if d.get("d_z") is None else f"{d['d_z']:.2f}",
        str(d["n"]),
        _per_fold(d),
        signed_interval(corr.get("low"), corr.get("high")),
        p_value(corr.get("p")),
        p_value(d.get("p_holm")),
        holm_interval(d),
        verdict(d.get("significant")),
        resolvable(d),
        needed(d),
        p_value((d.get("ttest") or {}).get("p")),
        _wilcoxon(d),
        pct(d.get("seed_sd")),
        _mcnemar(c),
        "; ".join(notes),
    ]


def comparison_lines(summary: dict[str, Any]) -> list[str]:
    comps = summary.get("comparisons") or []
    if not comps:
        return []
    head = comparison_head()
    title = "**Paired comparisons** (candidate − reference; "
    title += (
        "each step against the one before, and the last against the first, "
        if summary.get("design") == "steps"
        else "rows that differ in one setting, "
    )
    title += f"paired over folds, seeds averaged within a fold; Holm across these {len(comps)}):"
    lines = ["", title, "", "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(comparison_cells(c)) + " |" for c in comps]
    return lines + ["", VERDICT_RULE]


def paper_table_lines(summary: dict[str, Any]) -> list[str]:
    lines: list[str] = []
    for t in summary.get("paper_tables") or []:
        lines += ["", f"**{t['title']}** ({t['group']}); accuracy %, ours with its 95% CI, "
                  "the paper's (ResNet50 from AudioSet weights) beside it; Δ against the first "
                  "row, paired over folds, Holm across the table's Δs:", ""]  # fmt: skip
        head = ["model", *[f"{d}: ours" for d in t["datasets"]]]
        head += [f"{d}: paper" for d in t["datasets"]]
        head += [f"{d}: Δ ours [corrected CI] (p, Holm p and CI, real?, smallest real Δ)"
                 for d in t["datasets"]]  # fmt: skip
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
        lines += ["", VERDICT_RULE]
    return lines


def _delta(d: dict[str, Any] | None) -> str:
    if not d:
        return "–"
    if not d.get("paired"):
        return f"not paired ({d.get('reason')})"
    diff = d["difference"]
    corr = diff.get("corrected") or {}
    return (
        f"{signed(diff['mean'])} {signed_interval(corr.get('low'), corr.get('high'))} "
        f"(p {p_value(corr.get('p'))}, Holm {p_value(diff.get('p_holm'))} "
        f"{holm_interval(diff)}, {verdict(diff.get('significant'))}, smallest real "
        f"{resolvable(diff)}; n {diff['n']})"
    )


def _gaps(summary: dict[str, Any]) -> list[str]:
    """Incomplete rows, failed jobs, unfinished jobs and what the summary set aside."""
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
    if summary.get("excluded"):
        lines += ["", f"**Excluded runs** ({len(summary['excluded'])}; left out of every mean "
                  "and test):"]  # fmt: skip
        lines += [f"- {e['problem']}" for e in summary["excluded"]]
    if summary.get("notes"):
        lines += ["", "**Read with care:**", *[f"- {n}" for n in summary["notes"]]]
    return lines


def reading(folds: int) -> str:
    """How to read the tables; the fold count is the summary's."""
    return (
        "How to read it: a fold's accuracy is averaged over seeds first, so each fold counts "
        "once; the row interval is Student's t over those fold means, and the seed-to-seed sd "
        "(pooled within folds) is training noise, shown apart. A paired difference is the mean "
        "over folds of each fold's seed-averaged difference, computed from clip counts; n is the "
        "number of folds. The folds share most of their training clips, so the corrected "
        "resampled t (Nadeau-Bengio: variance × (1/n + n_test/n_train)) is the headline and the "
        "plain t, which ignores that overlap, is optimistic; both take at least the variance "
        "the folds' clips imply. The corrected 95% CI is the comparison's own; the Holm-adjusted "
        "CI is at the level Holm tested it at, and excludes zero exactly when the verdict is "
        "real. 'Smallest real difference' is that interval's half-width: what this sweep could "
        "have resolved. For an unresolved comparison, '80% power needs' says how many clips per "
        "fold (same folds) or folds (of the same size) would find the observed difference four "
        "times in five; more seeds do not enter it, as they average training noise within a "
        "fold but neither the clips' sampling nor the folds' spread. McNemar's test asks "
        "whether these trained models differ on these clips (conditional on the models, "
        f"{folds} different models pooled across the {folds} folds), not whether retraining "
        "would; the clip vote counts each clip once across seeds."
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
        *(
            ["", reading(len(summary["folds"]))]
            if summary.get("comparisons") or summary.get("paper_tables")
            else []
        ),
        *_gaps(summary),
    ]
    return "\n".join(lines) + "\n"
