"""The framework's default path against the plain script, paired on (fold, seed).

    python experiments/default_path_compare.py --plain plain_s0.json plain_s1.json \
        --framework SWEEP_S0 SWEEP_S1 [--framework-label NAME]

`--plain`: the JSON files `plain_resnet18_esc10.py` writes (one per seed). `--framework`: sweep
folders of `python -m fpam_lightning.train -m ... data.fold=1,2,3,4,5 seed=S`. Prints each
side's per-fold accuracies and 5-fold means, and the paired difference (framework − plain) over
the matched runs with its 95 % interval, paired t and Wilcoxon p (`stats.significance`).
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path

from fpam_lightning.stats.compare import runs_of
from fpam_lightning.stats.cv_summary import build_summary
from fpam_lightning.stats.runs import collect_jobs
from fpam_lightning.stats.significance import paired_difference


def plain_runs(paths: list[Path]) -> dict[tuple[str, int, int], float]:
    runs = {}
    for p in paths:
        res = json.loads(p.read_text())
        for fold, acc in res["folds"].items():
            runs[("esc10", int(fold), int(res["seed"]))] = float(acc)
    return runs


def framework_runs(dirs: list[Path]) -> dict[tuple[str, int, int], float]:
    """The sweeps' completed runs, read as `summarize` reads them (one configuration)."""
    jobs = [j for d in dirs for j in collect_jobs(d)]
    (row,) = build_summary(jobs, {}, whole_grid=False)["rows"]
    return runs_of(row)


def describe(name: str, runs: dict[tuple[str, int, int], float]) -> str:
    seeds = sorted({s for _, _, s in runs})
    lines = []
    for seed in seeds:
        folds = {f: a for (_, f, s), a in sorted(runs.items()) if s == seed}
        per_fold = " / ".join(f"{100 * a:.1f}" for a in folds.values())
        lines.append(
            f"{name} seed {seed}: {per_fold}, mean {100 * statistics.fmean(folds.values()):.1f}"
        )
    lines.append(
        f"{name} all: mean {100 * statistics.fmean(runs.values()):.1f} over {len(runs)} runs"
    )
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--plain", type=Path, nargs="+", required=True)
    p.add_argument("--framework", type=Path, nargs="+", required=True)
    p.add_argument("--framework-label", default="framework")
    args = p.parse_args()
    plain, framework = plain_runs(args.plain), framework_runs(args.framework)
    print(describe("plain", plain))
    print(describe(args.framework_label, framework))
    d = paired_difference(framework, plain)
    print(
        f"{args.framework_label} - plain over {d.n} paired runs: {100 * d.mean:+.1f} points, "
        f"95% CI [{100 * d.low:+.1f}, {100 * d.high:+.1f}], paired t p {d.p_ttest:.3f}, "
        f"Wilcoxon p {d.p_wilcoxon:.3f}"
    )


if __name__ == "__main__":
    main()
