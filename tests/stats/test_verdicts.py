"""Made-up sweeps with known verdicts, summarised end to end; every p-value recomputed with scipy.

Each sweep is written as Hydra leaves it (overrides.yaml, results.json with the clip counts that
training records, predictions.csv), then read by `summarize` as a real sweep is.
"""

from __future__ import annotations

import csv
import itertools
import json
import math
from pathlib import Path

import numpy as np
import pytest
from analysis_run import make_job, write_multirun_yaml
from helpers import run_cli
from scipy import stats

from fpam_lightning.reporting.cv_report import summarize
from fpam_lightning.stats.crossval import VERDICT_RULE

N_TEST, N_TRAIN = 80, 320  # one ESC-10 fold


def result(fold: int, seed: int, correct: int | None, attention: str, **extra) -> dict:
    acc = None if correct is None else float(np.float32(correct / N_TEST))  # as training stores
    return {
        "status": "completed", "dataset": "esc10", "fold": fold, "seed": seed, "test_acc": acc,
        "num_test": N_TEST, "num_train": N_TRAIN, "backbone": "resnet18",
        "attention": attention, "variant": "paper", "mixup": False, **extra,
    }  # fmt: skip


def predictions(job: Path, fold: int, correct: int) -> None:
    with open(job / "predictions.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["file", "fold", "target", "true_class", "predicted", "predicted_class",
                    "correct", "prob_a", "prob_b"])  # fmt: skip
        for i in range(N_TEST):
            c = i < correct
            w.writerow([f"{fold}-{i}.wav", fold, 0, "a", 0 if c else 1, "a" if c else "b",
                        int(c), 0.9 if c else 0.1, 0.1 if c else 0.9])  # fmt: skip


def sweep(root: Path, name: str, clips: dict[str, dict[tuple[int, int], int | None]],
          extra=None) -> Path:  # fmt: skip
    """clips: attention -> (fold, seed) -> clips right (None: no held-out accuracy)."""
    out = root / name
    out.mkdir(parents=True)
    folds = sorted({f for c in clips.values() for f, _ in c})
    seeds = sorted({s for c in clips.values() for _, s in c})
    write_multirun_yaml(out, {"attention": ",".join(clips),
                              "data.fold": ",".join(map(str, folds)),
                              "seed": ",".join(map(str, seeds))}, [])  # fmt: skip
    n = 0
    for att, runs in clips.items():
        for (fold, seed), right in sorted(runs.items()):
            res = result(fold, seed, right, att, **((extra or {}).get((att, fold, seed), {})))
            job = make_job(out, n, [f"attention={att}", f"data.fold={fold}", f"seed={seed}"], res)
            if right is not None:
                predictions(job, fold, right)
            n += 1
    return out


def corrected_p(d: list[float], ratio: float = N_TEST / N_TRAIN) -> float:
    n = len(d)
    t = np.mean(d) / math.sqrt((1 / n + ratio) * np.var(d, ddof=1))
    return float(2 * stats.t.sf(abs(t), n - 1))


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


def test_a_constant_one_clip_shift_per_fold_gets_no_verdict_and_no_interval(tmp_path):
    base = {(f, 0): 50 + 3 * f for f in FOLDS}
    s = summarize(sweep(tmp_path, "s", {"none": base, "fpam": {k: v + 1 for k, v in base.items()}}))
    c = comparison(s, "fpam", "none")
    d = c["difference"]
    assert d["n"] == 5 and [f["clips"] for f in d["per_fold"]] == [1] * 5
    assert d["mean"] == pytest.approx(1 / 80) and "no spread" in d["undefined"]
    assert d["corrected"] is None and d["ttest"] is None and d["significant"] is None
    assert d["wilcoxon_p"] == pytest.approx(stats.wilcoxon([1] * 5).pvalue) == 0.0625
    assert d["wilcoxon_min_p"] == 0.0625
    md = (tmp_path / "s" / "cv_summary.md").read_text()
    row = next(
        line for line in md.splitlines() if line.startswith("| attention=fpam | attention=none")
    )
    cells = [x.strip() for x in row.split("|")[1:-1]]
    assert cells[2:10] == ["+1.2", "–", "5", "+1 +1 +1 +1 +1", "–", "–", "–", "–"]
    assert "0.062 (min 0.0625 with these folds)" in row and "no spread" in row
    assert VERDICT_RULE in md


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
        assert d["n"] == 5 and d["runs_paired"] == 15 and d["ttest"]["df"] == 4
        assert d["ttest"]["p"] == pytest.approx(stats.ttest_1samp(fold_d, 0).pvalue)
        assert d["corrected"]["p"] == pytest.approx(corrected_p(fold_d))
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
    assert c["difference"]["corrected"]["p"] == pytest.approx(corrected_p(d))
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
    assert "2 commits (aaaaaaaaa, bbbbbbbbb)" in (tmp_path / "s" / "cv_summary.md").read_text()
