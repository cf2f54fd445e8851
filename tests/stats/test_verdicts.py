"""Made-up sweeps with known verdicts, summarised end to end; every p-value recomputed with scipy.

Each sweep is written as Hydra leaves it (overrides.yaml, results.json with the clip counts that
training records, predictions.csv), then read by `summarize` as a real sweep is.
"""

from __future__ import annotations

import csv
import itertools
import json
import math
from importlib import metadata
from pathlib import Path

import numpy as np
import pytest
from analysis_run import make_job, write_multirun_yaml
from helpers import run_cli
from scipy import stats

from fpam_lightning.reporting.cv_report import summarize
from fpam_lightning.stats.crossval import VERDICT_RULE

N_TEST, N_TRAIN = 80, 320  # one ESC-10 fold
US8K = dict(enumerate((873, 888, 925, 990, 936, 823, 838, 806, 816, 837), 1))  # official folds


def result(fold: int, seed: int, correct: int | None, attention: str, n: int = N_TEST,
           total: int = N_TEST + N_TRAIN, **extra) -> dict:  # fmt: skip
    acc = None if correct is None else float(np.float32(correct / n))  # as training stores
    return {
        "status": "completed", "dataset": "esc10", "fold": fold, "seed": seed, "test_acc": acc,
        "num_test": n, "num_train": total - n, "backbone": "resnet18",
        "attention": attention, "variant": "paper", "mixup": False, **extra,
    }  # fmt: skip


def predictions(job: Path, fold: int, correct: int, n: int = N_TEST) -> None:
    """Every clip of class `a`; the first `correct` right, so two runs differ on |gained - lost|
    clips only: b + c is the least the accuracies allow."""
    with open(job / "predictions.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["file", "fold", "target", "true_class", "predicted", "predicted_class",
                    "correct", "prob_a", "prob_b"])  # fmt: skip
        for i in range(n):
            c = i < correct
            w.writerow([f"{fold}-{i}.wav", fold, 0, "a", 0 if c else 1, "a" if c else "b",
                        int(c), 0.9 if c else 0.1, 0.1 if c else 0.9])  # fmt: skip


def sweep(
    root: Path,
    name: str,
    clips: dict[str, dict[tuple[int, int], int | None]],
    extra=None,
    sizes: dict[int, int] | None = None,
    keep_predictions=True,
) -> Path:
    """clips: attention -> (fold, seed) -> clips right (None: no held-out accuracy); sizes:
    fold -> clips tested (default 80 of 400)."""
    out = root / name
    out.mkdir(parents=True)
    folds = sorted({f for c in clips.values() for f, _ in c})
    seeds = sorted({s for c in clips.values() for _, s in c})
    total = sum(sizes.values()) if sizes else N_TEST + N_TRAIN
    sizes = sizes or dict.fromkeys(folds, N_TEST)
    write_multirun_yaml(out, {"attention": ",".join(clips),
                              "data.fold": ",".join(map(str, folds)),
                              "seed": ",".join(map(str, seeds))}, [])  # fmt: skip
    n = 0
    for att, runs in clips.items():
        for (fold, seed), right in sorted(runs.items()):
            more = (extra or {}).get((att, fold, seed), {})
            res = result(fold, seed, right, att, sizes[fold], total, **more)
            job = make_job(out, n, [f"attention={att}", f"data.fold={fold}", f"seed={seed}"], res)
            if right is not None and keep_predictions:
                predictions(job, fold, right, sizes[fold])
            n += 1
    return out


def corrected_p(d: list[float], ratio: float = N_TEST / N_TRAIN, floor: float = 0.0) -> float:
    n = len(d)
    t = np.mean(d) / math.sqrt((1 / n + ratio) * max(np.var(d, ddof=1), floor))
    return float(2 * stats.t.sf(abs(t), n - 1))


def clip_floor(cand: dict, ref: dict, sizes: dict[int, int] | None = None) -> float:
    """Mean over folds of the fold's floor: (b + c + 2) / (n + 2)^2 averaged over its seeds, b + c
    = |gained - lost| here (see `predictions`)."""
    folds = sorted({f for f, s in cand if (f, s) in ref})
    n = sizes or dict.fromkeys(folds, N_TEST)
    runs = [[k for k in cand if k[0] == f and k in ref] for f in folds]
    per_fold = [
        np.mean([(abs(cand[k] - ref[k]) + 2) / (n[k[0]] + 2) ** 2 for k in r]) for r in runs
    ]
    return float(np.mean(per_fold))


def signed_rank_p(d: list[float]) -> float:
    """Exact two-sided signed-rank p by enumerating every sign (zeros dropped, ties midranked)."""
    x = [v for v in d if v != 0]
    ranks = stats.rankdata(np.abs(x))

    def t_plus(signs):
        return sum(r for r, s in zip(ranks, signs, strict=True) if s > 0)

    observed = t_plus(np.sign(x))
    null = [t_plus(s) for s in itertools.product((1, -1), repeat=len(x))]
    centre = sum(ranks) / 2
    return sum(abs(t - centre) >= abs(observed - centre) - 1e-9 for t in null) / len(null)


def holm(p: list[float]) -> list[float]:
    order = np.argsort(p)
    out, running = [0.0] * len(p), 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (len(p) - rank) * p[i]))
        out[i] = running
    return out


def comparison(s: dict, candidate: str, reference: str) -> dict:
    (c,) = [c for c in s["comparisons"] if (c["candidate"], c["reference"]) ==
            (f"attention={candidate}", f"attention={reference}")]  # fmt: skip
    return c


FOLDS, SEEDS = range(1, 6), range(3)
BASE = {(f, s): 50 + 3 * f + (s % 2) for f in FOLDS for s in SEEDS}


def cells(md: str, candidate: str = "fpam", reference: str = "none") -> dict[str, str]:
    """A comparison's row of cv_summary.md (or summarize's output) by column name."""
    lines = md.splitlines()
    head = next(line for line in lines if line.startswith("| candidate | reference"))
    start = f"| attention={candidate} | attention={reference} |"
    row = next(line for line in lines if line.startswith(start))
    names = [x.strip() for x in head.split("|")[1:-1]]
    return dict(zip(names, [x.strip() for x in row.split("|")[1:-1]], strict=True))


def not_real_and_not_zero_width(proc, out: Path) -> dict:
    """The comparison through the real command: 'no', an interval with two different ends
    around zero, and what the sweep could resolve."""
    assert proc.returncode == 0 and "Traceback" not in proc.stderr
    row = cells(proc.stdout)
    assert row["real?"] == "no"
    for key in (
        "corrected 95% CI (this comparison alone)",
        "Holm-adjusted CI (step-matched level)",
    ):
        low, high = row[key].split(" (")[0].strip("[]").split(", ")
        assert low != high and float(low) < 0 < float(high), row[key]
    assert row["smallest real difference (points, Holm)"].startswith("±")
    assert "clips per fold" in row["80% power at this difference needs"]
    s = json.loads((out / "cv_summary.json").read_text())
    return s["comparisons"][0]["difference"]


def test_a_constant_one_clip_shift_per_fold_is_not_real_and_never_zero_width(tmp_path):
    base = {(f, 0): 50 + 3 * f for f in FOLDS}
    out = sweep(tmp_path, "s", {"none": base, "fpam": {k: v + 1 for k, v in base.items()}})
    d = not_real_and_not_zero_width(run_cli("fpam_lightning.summarize", str(out)), out)
    assert d["n"] == 5 and [f["clips"] for f in d["per_fold"]] == [1] * 5
    assert d["mean"] == pytest.approx(1 / 80) and d["undefined"] is None
    assert d["floored"] and d["var_floor"] == pytest.approx(3 / 82**2)
    assert d["corrected"]["p"] == pytest.approx(corrected_p([1 / 80] * 5, floor=3 / 82**2))
    assert d["wilcoxon_p"] == pytest.approx(stats.wilcoxon([1] * 5).pvalue) == 0.0625
    assert all(f["discordant_counted"] for f in d["per_fold"])  # from predictions.csv
    md = (out / "cv_summary.md").read_text()
    assert (
        "0.062 (min 0.0625 with these folds)" in md and "the clips' floor sets the variance" in md
    )
    assert VERDICT_RULE in md


@pytest.mark.parametrize(
    "sizes", [dict(zip(FOLDS, (80, 79, 81, 78, 80), strict=True)), US8K], ids=["esc", "us8k"]
)
def test_one_clip_on_every_fold_of_unequal_sizes_is_not_real(tmp_path, sizes):
    """The issue's case: +1 clip a fold is +1/80, +1/79, ... in accuracy, which has a spread of
    its own; in clips it has none, and the clips' floor decides (before: p 5e-8 and 1e-10)."""
    base = {(f, 0): round(0.7 * n) for f, n in sizes.items()}
    out = sweep(tmp_path, "s", {"none": base, "fpam": {k: v + 1 for k, v in base.items()}},
                sizes=sizes)  # fmt: skip
    d = not_real_and_not_zero_width(run_cli("fpam_lightning.summarize", str(out)), out)
    assert [f["clips"] for f in d["per_fold"]] == [1] * len(sizes) and d["d_z"] is None
    assert d["corrected"]["p"] > 0.2 and d["floored"]
    fold_d = [1 / n for n in sizes.values()]
    ratio = np.mean([n / (sum(sizes.values()) - n) for n in sizes.values()])
    floor = np.mean([3 / (n + 2) ** 2 for n in sizes.values()])
    assert d["corrected"]["p"] == pytest.approx(corrected_p(fold_d, ratio, floor))
    assert d["resolvable"] > abs(d["mean"])  # it could not have resolved a clip a fold


def test_near_constant_shifts_and_a_few_clip_wins_over_seeds_are_not_real(tmp_path):
    base = {(f, 0): 50 + 3 * f for f in FOLDS}
    shift = dict(zip(FOLDS, (1, 1, 1, 1, 2), strict=True))
    out = sweep(
        tmp_path, "a", {"none": base, "fpam": {k: v + shift[k[0]] for k, v in base.items()}}
    )
    d = not_real_and_not_zero_width(run_cli("fpam_lightning.summarize", str(out)), out)
    assert d["corrected"]["p"] > 0.3  # before: p 0.016, "yes"
    # six clip wins in 1,200 predictions (5 folds x 80 clips x 3 seeds): +0.5 points
    wins = {(1, 0): 1, (2, 1): 1, (3, 2): 1, (4, 0): 1, (5, 1): 1, (5, 2): 1}
    seeds = {(f, s): 50 + 3 * f for f in FOLDS for s in SEEDS}
    cand = {k: v + wins.get(k, 0) for k, v in seeds.items()}
    out = sweep(tmp_path, "b", {"none": seeds, "fpam": cand})
    d = not_real_and_not_zero_width(run_cli("fpam_lightning.summarize", str(out)), out)
    assert d["mean"] == pytest.approx(0.005) and d["corrected"]["p"] > 0.5
    assert d["corrected"]["p"] == pytest.approx(corrected_p(
        [np.mean([(cand[f, s] - seeds[f, s]) / 80 for s in SEEDS]) for f in FOLDS],
        floor=clip_floor(cand, seeds)))  # fmt: skip


def test_a_large_consistent_gain_is_still_real(tmp_path):
    base = {(f, 0): 40 + 3 * f for f in FOLDS}
    gain = dict(zip(FOLDS, (7, 8, 9, 8, 8), strict=True))
    out = sweep(tmp_path, "a", {"none": base, "fpam": {k: v + gain[k[0]] for k, v in base.items()}})
    proc = run_cli("fpam_lightning.summarize", str(out))
    row = cells(proc.stdout)
    assert row["real?"] == "yes" and row["80% power at this difference needs"] == "resolved"
    d = json.loads((out / "cv_summary.json").read_text())["comparisons"][0]["difference"]
    assert d["significant"] and d["holm_interval"]["low"] > 0 and d["resolvable"] < d["mean"]
    # +40 of 400 clips a fold, without predictions (the floor from the counts alone)
    sizes = dict.fromkeys(FOLDS, 400)
    base = {(f, 0): 200 + f for f in FOLDS}
    gain = dict(zip(FOLDS, (40, 38, 43, 41, 39), strict=True))
    out = sweep(tmp_path, "b", {"none": base, "fpam": {k: v + gain[k[0]] for k, v in base.items()}},
                sizes=sizes, keep_predictions=False)  # fmt: skip
    assert run_cli("fpam_lightning.summarize", str(out)).returncode == 0
    d = json.loads((out / "cv_summary.json").read_text())["comparisons"][0]["difference"]
    assert d["significant"] and d["corrected"]["p"] < 0.01
    assert not any(f["discordant_counted"] for f in d["per_fold"])


def test_an_urbansound8k_sweep_of_ten_official_folds(tmp_path):
    """10 folds of the official sizes, 3 configurations: a real gain (+4 points, some spread), a
    gain of 1 to 2 clips a fold that is not real, and Holm across the three. (Ten folds do resolve
    2 to 3 clips on every fold, 24 of 24 discordant clips won: p 0.034.)"""
    rng = np.random.default_rng(8)
    base = {(f, 0): round(0.7 * n) + int(rng.integers(-5, 6)) for f, n in US8K.items()}
    big = {k: v + round(0.04 * US8K[k[0]]) + int(rng.integers(-6, 7)) for k, v in base.items()}
    small = {k: v + int(rng.integers(1, 3)) for k, v in base.items()}
    out = sweep(tmp_path, "us8k", {"none": base, "pyramid": small, "fpam": big}, sizes=US8K)
    proc = run_cli("fpam_lightning.summarize", str(out))
    assert cells(proc.stdout)["real?"] == "yes"
    assert cells(proc.stdout, "pyramid")["real?"] == "no"
    s = json.loads((out / "cv_summary.json").read_text())
    ratio = np.mean([n / (8732 - n) for n in US8K.values()])
    assert 1 / 9.5 < ratio < 1 / 8.5
    for cand, runs in (("pyramid", small), ("fpam", big)):
        d = comparison(s, cand, "none")["difference"]
        fold_d = [(runs[f, 0] - base[f, 0]) / n for f, n in US8K.items()]
        assert d["n"] == 10 and d["corrected"]["df"] == 9
        assert d["test_train_ratio"] == pytest.approx(ratio)
        assert d["corrected"]["p"] == pytest.approx(
            corrected_p(fold_d, ratio, clip_floor(runs, base, US8K))
        )
    assert comparison(s, "pyramid", "none")["difference"]["needed"]["clips_per_fold"] > 900
    assert "10 different models pooled across the 10 folds" in proc.stdout


def test_k_seeds_by_5_folds_pair_as_5_folds_and_three_configurations_get_holm(tmp_path):
    rng = np.random.default_rng(3)
    better = {k: v + 4 + int(rng.integers(-2, 3)) for k, v in BASE.items()}
    same = {k: v + int(rng.integers(-3, 4)) for k, v in BASE.items()}
    s = summarize(sweep(tmp_path, "s", {"none": BASE, "pyramid": same, "fpam": better}))
    assert len(s["comparisons"]) == 3
    raw = []
    cases = [("pyramid", "none", same, BASE), ("fpam", "none", better, BASE)]
    cases.append(("fpam", "pyramid", better, same))
    for cand, ref, c_runs, r_runs in cases:
        d = comparison(s, cand, ref)["difference"]
        fold_d = [np.mean([(c_runs[f, s_] - r_runs[f, s_]) / 80 for s_ in SEEDS]) for f in FOLDS]
        floor = clip_floor(c_runs, r_runs)
        assert d["n"] == 5 and d["runs_paired"] == 15 and d["ttest"]["df"] == 4
        assert d["var_floor"] == pytest.approx(floor)
        assert d["ttest"]["p"] == pytest.approx(corrected_p(fold_d, 0, floor))
        assert d["corrected"]["p"] == pytest.approx(corrected_p(fold_d, floor=floor))
        assert d["wilcoxon_p"] == pytest.approx(signed_rank_p(fold_d))
        raw.append(d["corrected"]["p"])
    expected_holm = holm(raw)
    order = [("pyramid", "none"), ("fpam", "none"), ("fpam", "pyramid")]
    got = [comparison(s, a, b)["difference"]["p_holm"] for a, b in order]
    assert got == pytest.approx(expected_holm)
    gain = comparison(s, "fpam", "none")
    assert gain["difference"]["significant"] is (expected_holm[1] < 0.05)
    assert gain["family_size"] == 3
    # McNemar per seed and the clip vote over the three seeds, from the predictions
    assert [t["seed"] for t in gain["mcnemar"]] == [0, 1, 2]
    assert gain["clip_vote"]["seeds"] == [0, 1, 2] and gain["clip_vote"]["n_clips"] == 400


def test_a_missing_fold_and_unequal_seeds_are_flagged_where_they_occur(tmp_path):
    none = {(f, s): 60 + f for f in FOLDS for s in range(2)}
    fpam = {(f, s): 63 + f + (f % 2) for f in range(1, 5) for s in range(3)}  # no fold 5
    s = summarize(sweep(tmp_path, "s", {"none": none, "fpam": fpam}))
    rows = {r["configuration"]: r for r in s["rows"]}
    assert rows["attention=fpam"]["missing_folds"] == [5]
    c = comparison(s, "fpam", "none")
    assert c["difference"]["n"] == 4 and c["difference"]["runs_paired"] == 8
    assert "the difference covers 8 runs, the means 12 and 10" in c["notes"][0]
    d = [(3 + f % 2) / 80 for f in range(1, 5)]
    floor = clip_floor(fpam, none)
    assert c["difference"]["corrected"]["p"] == pytest.approx(corrected_p(d, floor=floor))
    fpam[(5, 0)] = 70
    s2 = summarize(sweep(tmp_path, "s2", {"none": none, "fpam": fpam}))
    rows = {r["configuration"]: r for r in s2["rows"]}
    assert rows["attention=fpam"]["unequal_seeds"] is True
    assert rows["attention=fpam"]["seeds_per_fold"] == {"1": 3, "2": 3, "3": 3, "4": 3, "5": 1}
    c2 = comparison(s2, "fpam", "none")
    assert c2["difference"]["unequal_seeds"] is True
    assert any(n.startswith("folds pair unequal numbers of seeds") for n in c2["notes"])
    md = (tmp_path / "s2" / "cv_summary.md").read_text()
    assert "0,1,2 (unequal per fold)" in md and "folds pair unequal numbers of seeds" in md


def test_a_search_trials_null_accuracy_is_counted_and_skipped(tmp_path):
    runs = {(f, 0): 60 + f for f in FOLDS}
    trial = {**runs, (5, 0): None}
    out = sweep(tmp_path, "s", {"none": runs, "fpam": trial})
    proc = run_cli("fpam_lightning.summarize", str(out))
    assert proc.returncode == 0 and "Traceback" not in proc.stderr
    s = json.loads((out / "cv_summary.json").read_text())
    rows = {r["configuration"]: r for r in s["rows"]}
    assert (
        rows["attention=fpam"]["n_completed"] == 4
        and len(rows["attention=fpam"]["no_accuracy"]) == 1
    )
    assert any("1 completed run(s) have no held-out accuracy" in n for n in s["notes"])
    assert "have no held-out accuracy" in proc.stdout


def test_the_same_sweep_joined_twice_counts_once_and_pools_once(tmp_path):
    rng = np.random.default_rng(4)
    better = {k: v + 3 + int(rng.integers(-2, 3)) for k, v in BASE.items()}
    out = sweep(tmp_path, "s", {"none": BASE, "fpam": better})
    once = summarize(out, tmp_path / "once")
    twice = summarize([out, out], tmp_path / "twice")
    for a, b in zip(once["rows"], twice["rows"], strict=True):
        assert a["runs"] == b["runs"] and a["n_runs"] == b["n_runs"] == 15
        assert a["pooled"]["num_clips"] == b["pooled"]["num_clips"] == 3 * 5 * N_TEST
    assert once["comparisons"][0]["difference"] == twice["comparisons"][0]["difference"]
    assert any("given more than once" in n for n in twice["notes"])
    assert "given more than once" in (tmp_path / "twice" / "cv_summary.md").read_text()
    # Two sweeps that overlap (a run re-done in another folder): the first read counts.
    again = sweep(tmp_path, "again", {"fpam": {(1, 0): 10}})
    s = summarize([out, again], tmp_path / "overlap")
    fpam = next(r for r in s["rows"] if r["configuration"] == "attention=fpam")
    assert (
        fpam["runs"]["esc10/1/0"] == pytest.approx(better[1, 0] / 80) and len(fpam["repeats"]) == 1
    )
    assert fpam["pooled"]["num_clips"] == 15 * N_TEST
    assert any("repeat a configuration, fold and seed" in n for n in s["notes"])


def test_provenance_is_recorded_and_a_commit_mismatch_is_warned(tmp_path):
    other = {"commit": "b" * 40, "dirty": False, "data": {"sha256": "1" * 64, "clips": 400}}
    same = {**other, "commit": "a" * 40}
    extra = {(att, f, s_): {"provenance": other if (att, f) == ("fpam", 1) else same}
             for att in ("none", "fpam") for f in FOLDS for s_ in SEEDS}  # fmt: skip
    rng = np.random.default_rng(5)
    better = {k: v + 3 + int(rng.integers(-2, 3)) for k, v in BASE.items()}
    s = summarize(sweep(tmp_path, "s", {"none": BASE, "fpam": better}, extra))
    c = comparison(s, "fpam", "none")
    assert c["provenance_warnings"] == ["2 commits (aaaaaaaaa, bbbbbbbbb)"]
    assert any("the runs come from 2 commits" in n for n in s["notes"])
    assert set(s["provenance"]) >= {"commit", "dirty", "packages"}
    packages = s["provenance"]["packages"]  # what computed these verdicts
    assert packages["scipy"] == metadata.version("scipy")
    assert packages["numpy"] == metadata.version("numpy")
    assert packages["statsmodels"] == metadata.version("statsmodels")  # a dev dependency
    assert packages["fpam_lightning"] == metadata.version("fpam_lightning")
    assert "2 commits (aaaaaaaaa, bbbbbbbbb)" in (tmp_path / "s" / "cv_summary.md").read_text()
