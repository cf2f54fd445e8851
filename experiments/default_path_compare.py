"""The framework's default path against the plain script, paired over folds (seeds averaged).

    python experiments/default_path_compare.py --plain plain_s0.json plain_s1.json \
        --framework SWEEP_S0 SWEEP_S1 [--framework-label NAME]

`--plain`: the JSON files `plain_resnet18_esc10.py` writes (one per seed). `--framework`: sweep
folders of `python -m fpam_lightning.train -m ... data.fold=1,2,3,4,5 seed=S`. Prints each
side's per-fold accuracies and 5-fold means, and the paired difference (framework − plain) as
the summaries compute it (`stats.crossval.compare_cv`): the fold is the unit (each fold's
difference is the mean over the seeds both sides ran), differences in clips, the corrected
resampled t as the headline, the plain t and the exact Wilcoxon beside it.
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path

from fpam_lightning.stats.compare import scores_of
from fpam_lightning.stats.crossval import RunKey, Score, compare_cv, score_of
from fpam_lightning.stats.cv_summary import build_summary
from fpam_lightning.stats.runs import collect_jobs


def plain_runs(paths: list[Path], sizes: dict[int, tuple[int, int | None]]) -> dict[RunKey, Score]:
    """The plain script's accuracies as clip counts; a fold's sizes are the framework's runs' on
    the same fold (the same data set and folds: 80 clips tested, 320 trained on for ESC-10)."""
    runs = {}
    for p in paths:
        res = json.loads(p.read_text())
        for fold, acc in res["folds"].items():
            runs[("esc10", int(fold), int(res["seed"]))] = score_of(acc, *sizes[int(fold)])
    return runs


def framework_runs(dirs: list[Path]) -> dict[RunKey, Score]:
    """The sweeps' completed runs, read as `summarize` reads them (one configuration)."""
    jobs = [j for d in dirs for j in collect_jobs(d)]
    (row,) = build_summary(jobs, {}, whole_grid=False)["rows"]
    return scores_of(row)


def describe(name: str, runs: dict[RunKey, Score]) -> str:
    seeds = sorted({s for _, _, s in runs})
    lines = []
    for seed in seeds:
        folds = {f: float(a.accuracy) for (_, f, s), a in sorted(runs.items()) if s == seed}
        per_fold = " / ".join(f"{100 * a:.1f}" for a in folds.values())
        lines.append(
            f"{name} seed {seed}: {per_fold}, mean {100 * statistics.fmean(folds.values()):.1f}"
        )
    accs = [float(s.accuracy) for s in runs.values()]
    lines.append(f"{name} all: mean {100 * statistics.fmean(accs):.1f} over {len(runs)} runs")
    return "\n".join(lines)


def verdict(name: str, candidate: dict[RunKey, Score], reference: dict[RunKey, Score]) -> str:
    """The paired comparison in one paragraph, as the summary's table has it."""
    d = compare_cv(candidate, reference)
    per_fold = " ".join(f"{f['clips']:+.1f}" for f in d.per_fold)
    text = (
        f"{name} over {d.n} folds ({d.runs_paired} paired runs, seeds averaged within a fold): "
        f"{100 * d.mean:+.1f} points; per-fold differences in clips {per_fold}"
    )
    if d.undefined:
        return text + f"; {d.undefined}"
    c, t = d.corrected, d.ttest
    return text + (
        f"; corrected t p {c.p:.3f}, 95% CI [{100 * c.low:+.1f}, {100 * c.high:+.1f}] "
        f"(test/train {d.test_train_ratio:.3g}); plain t p {t.p:.3f}, CI [{100 * t.low:+.1f}, "
        f"{100 * t.high:+.1f}]; exact Wilcoxon p {d.wilcoxon_p:.3f} (smallest possible "
        f"{d.wilcoxon_min_p:.4g}); d_z {d.d_z:.2f}; seed-to-seed sd of the run differences "
        f"{100 * d.seed_sd:.1f} points"
    )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--plain", type=Path, nargs="+", required=True)
    p.add_argument("--framework", type=Path, nargs="+", required=True)
    p.add_argument("--framework-label", default="framework")
    args = p.parse_args()
    framework = framework_runs(args.framework)
    sizes = {f: (s.total, s.train) for (_, f, _), s in framework.items()}
    plain = plain_runs(args.plain, sizes)
    print(describe("plain", plain))
    print(describe(args.framework_label, framework))
    print(verdict(f"{args.framework_label} - plain", framework, plain))


if __name__ == "__main__":
    main()
