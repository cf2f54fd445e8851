"""Recompute a recorded sweep's verdicts with today's summary, from its per-run accuracies.

    python experiments/recompute_verdicts.py RECORD.json --out DIR [--steps]
    python experiments/recompute_verdicts.py experiments/results/default_path_esc10.md

RECORD is a `cv_summary.json` kept in `experiments/results/` after the sweep's run folders were
deleted. Each of its rows lists every run's held-out accuracy (`runs`: data set/fold/seed ->
float32 accuracy). This script writes one minimal run folder per run under DIR (the row's
overrides in `.hydra/overrides.yaml`, and a `results.json` with the accuracy and the fold's
clip counts), one sweep folder per row with `--steps` (a cumulative ablation, rows in order) or
one sweep with the record's grid otherwise, and runs `summarize` on them; the new
`cv_summary.md` and `.json` land in DIR.

The clip counts come from the record: the pooled out-of-fold predictions cover every clip once
per seed, so clips = pooled predictions / seeds, a fold tests clips / folds of them and trains
on the rest (ESC-10: 400 clips, 80 per fold, 320 to train on). What cannot be recomputed: the
clip-level tests (McNemar, the clip vote across seeds) and the pooled macro F1 need the
`predictions.csv` files, which went with the run folders; the record's per-seed McNemar counts
are printed from the record as they were measured.

Given the default-path record (`default_path_esc10.md`, the output of `default_path_compare.py`
whose per-fold accuracies are printed to 0.1 %, i.e. whole clips of ESC-10's 80 per fold), it
recomputes that comparison the way `default_path_compare.py` now does (`verdict`).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any

from omegaconf import OmegaConf

from fpam_lightning.reporting.cv_report import summarize
from fpam_lightning.stats.crossval import Score, score_of

sys.path.insert(0, str(Path(__file__).parent))
from default_path_compare import describe, verdict  # noqa: E402

IDENTITY = ("dataset", "backbone", "attention", "variant", "mixup")


def clip_counts(record: dict[str, Any]) -> tuple[int, int]:
    """(clips per held-out fold, clips trained on) from the record's pooled predictions."""
    sizes = set()
    for row in record["rows"]:
        pooled, seeds = row.get("pooled") or {}, row.get("seeds") or []
        if pooled.get("num_clips") and seeds:
            sizes.add(pooled["num_clips"] // len(seeds))
    if len(sizes) != 1:
        raise SystemExit(f"the record does not give one data set size (found {sorted(sizes)})")
    (clips,) = sizes
    folds = len(record["folds"])
    if clips % folds:
        raise SystemExit(f"{clips} clips do not split into {folds} equal folds")
    return clips // folds, clips - clips // folds


def write_run(job: Path, row: dict[str, Any], key: str, acc: float, n: tuple[int, int]) -> None:
    dataset, fold, seed = key.rsplit("/", 2)
    overrides = [f"{k}={v}" for k, v in row["params"].items() if v != "?"]
    overrides += [f"data.fold={fold}", f"seed={seed}"]
    (job / ".hydra").mkdir(parents=True)
    (job / ".hydra" / "overrides.yaml").write_text(OmegaConf.to_yaml(overrides))
    results = {
        "status": "completed",
        **{k: row.get(k) for k in IDENTITY},
        "dataset": dataset,
        "fold": int(fold),
        "seed": int(seed),
        "test_acc": acc,
        "num_test": n[0],
        "num_train": n[1],
        "recomputed_from": "a recorded cv_summary.json (the run folder is gone)",
    }
    (job / "results.json").write_text(json.dumps(results, indent=2))


def write_sweeps(record: dict[str, Any], out: Path, steps: bool) -> list[Path]:
    n = clip_counts(record)
    sweeps: list[Path] = []
    for i, row in enumerate(record["rows"]):
        sweep = out / "runs" / (row["configuration"] if steps else "sweep")
        if sweep not in sweeps:
            sweeps.append(sweep)
        for j, (key, acc) in enumerate(sorted(row["runs"].items())):
            write_run(sweep / f"{i:02d}_{j:03d}", row, key, acc, n)
    if not steps:  # the grid's order names the reference (the first value of a key)
        task = [f"{k}={','.join(v)}" for k, v in grid_of(record).items()]
        task += [f"data.fold={','.join(map(str, record['folds']))}"]
        hydra = {"hydra": {"overrides": {"task": task}, "sweeper": {"params": {}}}}
        (sweeps[0] / "multirun.yaml").write_text(OmegaConf.to_yaml(hydra))
    return sweeps


def grid_of(record: dict[str, Any]) -> dict[str, list[str]]:
    grid: dict[str, list[str]] = {}
    for row in record["rows"]:
        for k in record["dims"]:
            grid.setdefault(k, [])
            if row["params"][k] not in grid[k]:
                grid[k].append(row["params"][k])
    return grid


def recorded_mcnemar(record: dict[str, Any]) -> list[str]:
    lines = []
    for c in record.get("comparisons") or []:
        tests = "; ".join(
            f"seed {t['seed']}: +{t['candidate_only']}/-{t['reference_only']} of {t['n_clips']}, "
            f"p {t['p_value']:.3g}"
            for t in c.get("mcnemar") or []
        )
        lines.append(f"- {c['candidate']} − {c['reference']}: {tests or '–'}")
    return lines


def default_path(record: Path, n: tuple[int, int] = (80, 320)) -> None:
    """ESC-10: 400 clips in 5 folds of 80, trained on the other 320."""
    sides: dict[str, dict[tuple[str, int, int], Score]] = {}
    for line in record.read_text().splitlines():
        m = re.match(r"(.+) seed (\d+): ([\d. /]+), mean", line)
        if m:
            accs = [float(a) / 100 for a in m.group(3).split(" / ")]
            runs = sides.setdefault(m.group(1), {})
            for fold, acc in enumerate(accs, 1):
                runs[("esc10", fold, int(m.group(2)))] = score_of(round(acc * n[0]) / n[0], *n)
    plain = sides.pop("plain")
    print(describe("plain", plain))
    for name, runs in sides.items():
        print()
        print(describe(name, runs))
        print(verdict(f"{name} - plain", runs, plain))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("record", type=Path)
    p.add_argument("--steps", action="store_true", help="the rows are a cumulative ablation")
    p.add_argument("--out", type=Path, help="where the rebuilt sweeps and summary go")
    args = p.parse_args()
    if args.record.suffix == ".md":
        return default_path(args.record)
    if args.out is None:
        p.error("--out is required for a cv_summary.json record")
    record = json.loads(args.record.read_text())
    if args.out.exists() and any(args.out.iterdir()):
        raise SystemExit(f"{args.out} is not empty")
    sweeps = write_sweeps(record, args.out, args.steps)
    summary = summarize(sweeps, args.out, steps=args.steps)
    text = (args.out / "cv_summary.md").read_text()
    title = f"# Cross-validation summary: {record['sweep_dir']} (recomputed from its record)"
    text = "\n".join([title, *text.splitlines()[1:]]) + "\n"
    note = [
        "",
        f"Recomputed by `experiments/recompute_verdicts.py {args.record.name}` from the "
        f"per-run accuracies recorded in `{args.record.name}` (sweep {record['sweep_dir']}); the "
        "run folders are gone, so there are no pooled predictions, no clip vote across seeds and "
        "no McNemar test here. McNemar per seed as measured on the predictions at the time "
        "(exact, conditional on the trained models; not adjusted):",
        "",
        *recorded_mcnemar(record),
        "",
    ]
    (args.out / "cv_summary.md").write_text(text + "\n".join(note))
    summary["sweep_dir"] = f"{record['sweep_dir']} (recomputed from its record)"
    (args.out / "cv_summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    print(text + "\n".join(note))
    print(f"{len(summary['rows'])} rows, {sum(len(r['runs']) for r in summary['rows'])} runs")


if __name__ == "__main__":
    main()
