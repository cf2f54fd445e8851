"""Paired comparisons between the rows of a summary: is a difference real?

Two rows are compared when their settings differ in exactly one swept key (for example
`attention=none` against `attention=fpam`). The reference is the row whose value comes first in
the sweep's order for that key (`none` in `attention=none,fpam`). Runs are paired on (data set,
fold, seed), and the test pairs over folds: each fold's difference is the mean over the seeds
both rows ran on it (`crossval.compare_cv`: clip counts, the corrected resampled t as the
headline, the plain t and the exact Wilcoxon beside it). Rows that share no run (different data
sets, disjoint folds) are reported as not paired.

A table's comparisons are one family: `adjust` applies Holm's correction across them (a sweep's
one-key pairs, the steps of a cumulative ablation, each of the paper's tables) and sets each
verdict from the adjusted p (`crossval.VERDICT_RULE`).

Clip by clip, each pair also gets McNemar's test on the out-of-fold predictions, one per shared
seed, and one across seeds (`crossval.clip_vote`): tests conditional on the trained models.

A cumulative ablation (baseline, then each part added in turn, one sweep per step) changes
several keys at once, so its rows are compared by order instead (`step_comparisons`): each step
against the one before it, and the last against the first.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..utils.provenance import mismatches
from ..utils.run_files import PREDICTIONS_FILE
from .crossval import (
    ALPHA,
    FLOOR_NOTE,
    RunKey,
    Score,
    adjust_family,
    clip_vote,
    compare_cv,
    mcnemar,
)


def run_key(text: str) -> RunKey:
    dataset, fold, seed = text.rsplit("/", 2)
    return dataset, int(fold), int(seed)


def runs_of(row: dict[str, Any]) -> dict[RunKey, float]:
    """A summary row's completed runs: (data set, fold, seed) -> last-epoch accuracy."""
    return {run_key(k): float(v) for k, v in row["runs"].items()}


def scores_of(row: dict[str, Any]) -> dict[RunKey, Score]:
    """A summary row's completed runs as clip counts: (data set, fold, seed) -> `Score`."""
    return {run_key(k): Score(*v) for k, v in row["scores"].items()}


def run_clips(row: dict[str, Any]) -> dict[tuple[int, int], dict[str, bool]]:
    """Per (fold, seed) run that kept a readable predictions.csv: clip file -> whether it was
    right. A file that cannot be read counts as not kept (the clips' floor is then bounded)."""
    out: dict[tuple[int, int], dict[str, bool]] = {}
    for job_dir, fold, seed in zip(row["job_dirs"], row["job_folds"], row["job_seeds"],
                                   strict=True):  # fmt: skip
        path = Path(job_dir) / PREDICTIONS_FILE
        try:
            with open(path, newline="", encoding="utf-8") as f:
                out[(int(fold), int(seed))] = {r["file"]: r["correct"] == "1"
                                               for r in csv.DictReader(f)}  # fmt: skip
        except (OSError, ValueError, KeyError, csv.Error):
            continue
    return out


def clip_correctness(runs: dict[tuple[int, int], dict[str, bool]]) -> dict[int, dict[str, bool]]:
    """Per seed: clip file -> whether the model for that clip's fold got it right."""
    out: dict[int, dict[str, bool]] = {}
    for (_fold, seed), clips in runs.items():
        out.setdefault(seed, {}).update(clips)
    return out


def discordant_clips(
    a: dict[tuple[int, int], dict[str, bool]],
    b: dict[tuple[int, int], dict[str, bool]],
    scores: dict[RunKey, Score],
) -> dict[RunKey, int]:
    """Per run both sides kept every clip of: the clips won by one side only (b + c)."""
    out = {}
    for dataset, fold, seed in scores:
        ca, cb = a.get((fold, seed), {}), b.get((fold, seed), {})
        if len(ca) == len(cb) == scores[(dataset, fold, seed)].total and ca.keys() == cb.keys():
            out[(dataset, fold, seed)] = sum(ca[k] != cb[k] for k in ca)
    return out


def _order(values: Sequence[str], grid: dict[str, list[str]], key: str) -> list[str]:
    order = grid.get(key) or []
    return sorted(values, key=lambda v: (order.index(v) if v in order else len(order), v))


def single_difference(a: dict[str, str], b: dict[str, str]) -> str | None:
    keys = set(a) | set(b)
    diff = [k for k in keys if a.get(k) != b.get(k)]
    return diff[0] if len(diff) == 1 else None


def _coverage(d: dict[str, Any], n_candidate: int, n_reference: int) -> list[str]:
    """Where the paired difference covers other runs than the rows' means, or its variance is
    the clips' floor: said on the row."""
    notes = []
    if d["mismatched_runs"]:
        notes.append(
            "left out, tested on different numbers of clips (num_test, candidate against "
            f"reference): {', '.join(d['mismatched_runs'])}"
        )
    if d["unpaired_runs"]:
        notes.append(
            f"the difference covers {d['runs_paired']} runs, the means {n_candidate} and "
            f"{n_reference}: unpaired {', '.join(d['unpaired_runs'])}"
        )
    if d["unequal_seeds"]:
        seeds = ", ".join(f"fold {f['fold']}: {len(f['seeds'])}" for f in d["per_fold"])
        notes.append(f"folds pair unequal numbers of seeds ({seeds})")
    if d.get("floored"):
        clips = sum(f["n_test"] for f in d["per_fold"]) / len(d["per_fold"])
        notes.append(FLOOR_NOTE.format(observed=f"{clips * d['var_observed'] ** 0.5:.2g}",
                                       floor=f"{clips * d['var_floor'] ** 0.5:.2g}"))  # fmt: skip
    return notes


def compare_rows(
    candidate: dict[str, Any], reference: dict[str, Any], key: str | None = None
) -> dict[str, Any]:
    """`candidate - reference`: the paired difference over folds, McNemar per shared seed and
    the clip vote across seeds. Verdicts come from `adjust`, over the table's family."""
    out: dict[str, Any] = {
        "key": key,
        "candidate": candidate["configuration"],
        "reference": reference["configuration"],
    }
    a, b = scores_of(candidate), scores_of(reference)
    shared = sorted(set(a) & set(b))
    if not shared:
        da = sorted({k[0] for k in a})
        db = sorted({k[0] for k in b})
        out["paired"] = False
        out["reason"] = (
            f"different data sets ({', '.join(da)} against {', '.join(db)})"
            if da and db and not set(da) & set(db)
            else "no run of the same data set, fold and seed in both"
        )
        return out
    out["paired"] = True
    out["pairs"] = [f"{d}/{f}/{s}" for d, f, s in shared]
    ra, rb = run_clips(candidate), run_clips(reference)
    discordant = discordant_clips(ra, rb, {k: a[k] for k in shared})
    out["difference"] = compare_cv(a, b, discordant=discordant).as_dict()
    out["notes"] = _coverage(out["difference"], len(a), len(b))
    origins = [r.get("provenance", {}).get(f"{d}/{f}/{s}") for r in (candidate, reference)
               for d, f, s in shared]  # fmt: skip
    out["provenance_warnings"] = mismatches(origins) if any(origins) else []
    ca, cb = clip_correctness(ra), clip_correctness(rb)
    tests = []
    for seed in sorted(set(ca) & set(cb)):
        m = mcnemar(ca[seed], cb[seed])
        if m is not None:
            tests.append({"seed": seed, **m.as_dict()})
    out["mcnemar"] = tests
    vote = clip_vote(ca, cb)
    out["clip_vote"] = None if vote is None else {"seeds": sorted(set(ca) & set(cb)),
                                                  **vote.as_dict()}  # fmt: skip
    return out


def adjust(family: Sequence[dict[str, Any] | None], alpha: float = ALPHA) -> None:
    """Holm across a table's paired comparisons (their headline p): each verdict, its
    Holm-adjusted interval and what it could resolve (`crossval.adjust_family`)."""
    paired = [c for c in family if c and c.get("paired")]
    adjust_family([c["difference"] for c in paired], alpha)
    for c in paired:
        c["family_size"] = sum(1 for q in paired if q["difference"]["p_holm"] is not None)


def comparisons(rows: list[dict[str, Any]], grid: dict[str, list[str]]) -> list[dict[str, Any]]:
    """Every pair of rows whose settings differ in one key, against that key's first value."""
    out = []
    for i, r1 in enumerate(rows):
        for r2 in rows[i + 1 :]:
            key = single_difference(r1["params"], r2["params"])
            if key is None or not r1["runs"] or not r2["runs"]:
                continue
            first = _order([r1["params"].get(key, ""), r2["params"].get(key, "")], grid, key)[0]
            ref, cand = (r1, r2) if r1["params"].get(key, "") == first else (r2, r1)
            out.append(compare_rows(cand, ref, key))
    adjust(out)
    return out


def step_comparisons(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows in step order: each against the one before, then the last against the first."""
    out = [compare_rows(rows[i], rows[i - 1], "step") for i in range(1, len(rows))]
    if len(rows) > 2:
        out.append(compare_rows(rows[-1], rows[0], "all steps"))
    adjust(out)
    return out
