"""Known answers for the cross-validation tests; every p-value is recomputed here with scipy."""

from __future__ import annotations

import itertools
import math
from fractions import Fraction

import numpy as np
import pytest
from scipy import stats

from fpam_lightning.stats.crossval import (
    Score,
    adjust_family,
    clip_vote,
    compare_cv,
    holdout_ratio,
    holm,
    holm_levels,
    mcnemar,
    mean_interval,
    row_spread,
    score_of,
    wilcoxon_exact,
    wilcoxon_min_p,
)

ESC = 80, 320  # clips tested, clips trained on: one ESC-10 fold


def runs(correct: dict[tuple[int, int], int], n=ESC, dataset="esc10") -> dict:
    """(fold, seed) -> clips right, as the float32 accuracies results.json stores, read back."""
    return {
        (dataset, f, s): score_of(float(np.float32(c / n[0])), n[0], n[1])
        for (f, s), c in correct.items()
    }


def corrected_p(d: list[float], ratio: float, floor: float = 0.0) -> float:
    n = len(d)
    t = np.mean(d) / math.sqrt((1 / n + ratio) * max(np.var(d, ddof=1), floor))
    return float(2 * stats.t.sf(abs(t), n - 1))


def clip_floor(cand: dict, ref: dict, n: int = 80) -> float:
    """The mean over folds of each fold's floor: its runs' (|clips gained - lost| + 2) / (n+2)^2
    averaged over its seeds (Bonett-Price's adjusted paired variance, b + c >= |b - c|)."""
    folds = sorted({f for f, _ in cand if (f, _) in ref})
    per_fold = [
        np.mean(
            [(abs(cand[k] - ref[k]) + 2) / (n + 2) ** 2 for k in cand if k[0] == f and k in ref]
        )
        for f in folds
    ]
    return float(np.mean(per_fold))


def test_float32_accuracies_become_exact_clip_counts():
    # 0.05000000000000004 against 0.04999999999999993: the float noise the issue reported
    assert score_of(np.float32(57 / 80), 80) == Score(57, 80)
    with pytest.raises(ValueError, match="not a whole number"):
        score_of(0.5123, 80)


def test_a_constant_one_clip_shift_per_fold_is_tested_against_its_clips_and_not_real():
    ref_c = {(f, 0): 50 + 3 * f for f in range(1, 6)}
    cand_c = {k: v + 1 for k, v in ref_c.items()}
    c = compare_cv(runs(cand_c), runs(ref_c))
    assert c.n == 5 and c.mean == pytest.approx(1 / 80)
    assert [f["clips"] for f in c.per_fold] == [1, 1, 1, 1, 1]
    # no spread of its own: the clips' floor (1 + 2) / 82^2 per fold sets the variance
    assert c.undefined is None and c.floored and c.var_observed == 0 and c.d_z is None
    assert c.var_floor == pytest.approx(3 / 82**2) == pytest.approx(clip_floor(cand_c, ref_c))
    assert c.corrected.p == pytest.approx(corrected_p([1 / 80] * 5, 0.25, 3 / 82**2))
    assert c.corrected.p > 0.4 and c.corrected.low < 0 < c.corrected.high
    # Wilcoxon: all five the same sign is the smallest p five pairs can give, and it is 0.0625
    assert c.wilcoxon_p == pytest.approx(stats.wilcoxon([1] * 5, method="exact").pvalue)
    assert c.wilcoxon_min_p == 0.0625 == c.wilcoxon_p
    d = c.as_dict()
    adjust_family([d])
    assert d["significant"] is False and d["p_holm"] == pytest.approx(c.corrected.p)
    assert d["resolvable"] == pytest.approx(c.corrected.high - c.mean)  # one comparison: alpha


def test_identical_runs_are_tested_too_and_give_p_1():
    same = runs({(f, 0): 50 + f for f in range(1, 6)})
    c = compare_cv(same, same)
    assert c.undefined is None and c.mean == 0 and c.corrected.p == pytest.approx(1.0)
    assert c.wilcoxon_p is None  # every difference zero: nothing to rank


def test_one_fold_and_two_seeds_gives_no_interval_and_no_test():
    ref = runs({(1, 0): 50, (1, 1): 52})
    cand = runs({(1, 0): 51, (1, 1): 53})
    c = compare_cv(cand, ref)
    assert c.n == 1 and c.ttest is None and c.corrected is None and "one fold" in c.undefined
    assert mean_interval([0.7]).low is None
    assert mean_interval([Fraction(7, 10)] * 3).low is None  # no spread: no zero-width CI


def test_k_seeds_by_5_folds_pair_as_5_folds():
    rng = np.random.default_rng(0)
    ref_c = {(f, s): int(rng.integers(50, 70)) for f in range(1, 6) for s in range(3)}
    cand_c = {k: v + int(rng.integers(-3, 8)) for k, v in ref_c.items()}
    c = compare_cv(runs(cand_c), runs(ref_c))
    assert c.n == 5 and c.runs_paired == 15 and not c.unequal_seeds
    d = [np.mean([(cand_c[f, s] - ref_c[f, s]) / 80 for s in range(3)]) for f in range(1, 6)]
    floor = clip_floor(cand_c, ref_c)
    assert c.var_observed == pytest.approx(np.var(d, ddof=1))
    assert c.var_floor == pytest.approx(floor) and c.floored == (floor > np.var(d, ddof=1))
    assert c.floored  # shifts of -3 to +7 clips: seeds averaged, the folds agree too well
    assert c.ttest.df == 4 and c.ttest.p == pytest.approx(corrected_p(d, 0.0, floor))
    assert c.test_train_ratio == 0.25
    assert c.corrected.p == pytest.approx(corrected_p(d, 0.25, floor))
    assert c.corrected.p > c.ttest.p
    assert c.d_z == pytest.approx(np.mean(d) / np.std(d, ddof=1))
    assert c.wilcoxon_p == pytest.approx(stats.wilcoxon(d, method="exact").pvalue)
    # the seed-to-seed spread apart: pooled within-fold sd of the run differences
    within = [[(cand_c[f, s] - ref_c[f, s]) / 80 for s in range(3)] for f in range(1, 6)]
    pooled = math.sqrt(sum(np.var(w, ddof=1) * 2 for w in within) / 10)
    assert c.seed_sd == pytest.approx(pooled)
    # Bouckaert-Frank over all 15 runs, kept for reference only
    flat = [x for w in within for x in w]
    assert c.corrected_all_runs == pytest.approx(corrected_p(flat, 0.25, floor), rel=1e-9)


def test_with_a_spread_above_the_clips_floor_the_t_tests_are_scipys():
    ref_c = {(f, 0): 50 for f in range(1, 6)}
    cand_c = {(f, 0): 50 + g for f, g in zip(range(1, 6), (9, -2, 6, 1, 12), strict=True)}
    c = compare_cv(runs(cand_c), runs(ref_c))
    d = [(cand_c[f, 0] - 50) / 80 for f in range(1, 6)]
    assert not c.floored and c.var_observed > c.var_floor
    plain = stats.ttest_1samp(d, 0.0)
    ci = plain.confidence_interval(0.95)
    assert c.ttest.p == pytest.approx(plain.pvalue)
    assert (c.ttest.low, c.ttest.high) == pytest.approx((ci.low, ci.high))
    assert c.corrected.p == pytest.approx(corrected_p(d, 0.25))


def test_the_attention_ablation_at_the_fold_level():
    """The issue's figures, from the recorded clip counts of fold-averaged fpam - none."""
    folds = [0, 4, 17 / 3, 20 / 3, 8 / 3]  # clips, seeds averaged (from the sweep's record)
    ref = {(f, s): 60 for f in range(1, 6) for s in range(3)}
    cand = {(f, s): 60 + round(folds[f - 1] * 3) * (s == 0) for f in range(1, 6) for s in range(3)}
    c = compare_cv(runs(cand), runs(ref))
    assert 100 * c.mean == pytest.approx(4.75)
    assert (100 * c.ttest.low, 100 * c.ttest.high) == pytest.approx((0.68, 8.82), abs=0.005)
    assert c.ttest.p == pytest.approx(0.032, abs=5e-4)
    assert c.wilcoxon_p == pytest.approx(0.125)  # fold 1's zero dropped: 4 of 4 positive
    assert c.corrected.p == pytest.approx(0.097, abs=5e-4)


def test_unequal_seeds_and_a_missing_fold_are_flagged_and_paired_on_what_both_ran():
    ref_c = {(f, s): 60 + f for f in range(1, 6) for s in range(2)}
    cand_c = {(f, s): 62 + f + (f % 2) for f in range(1, 5) for s in range(3)}  # no fold 5
    c = compare_cv(runs(cand_c), runs(ref_c))
    assert c.n == 4 and c.runs_paired == 8
    assert c.unpaired_runs == [f"esc10/{f}/2" for f in range(1, 5)] + [
        "esc10/5/0",
        "esc10/5/1",
    ]
    c2 = compare_cv(runs({**cand_c, (5, 0): 70}), runs(ref_c))
    assert c2.unequal_seeds  # fold 5 pairs one seed, the others two
    d = [(2 + f % 2) / 80 for f in range(1, 5)]
    floor = clip_floor(cand_c, ref_c)
    assert c.ttest.p == pytest.approx(corrected_p(d, 0.0, floor))
    assert c.corrected.p == pytest.approx(corrected_p(d, 0.25, floor)) and c.corrected.p > 0.05


def test_holm_matches_statsmodels_on_three_configurations():
    multipletests = pytest.importorskip("statsmodels.stats.multitest").multipletests
    for p in ([0.01, 0.04, 0.03], [0.2, 0.001, 0.5, 0.049], [0.04, 0.04, 0.04]):
        assert holm(p) == pytest.approx(list(multipletests(p, method="holm")[1]))
    assert holm([0.02, None, 0.04]) == [0.04, None, 0.04]  # no test: not in the family
    # three configurations -> three comparisons, adjusted together
    rng = np.random.default_rng(1)
    base = {(f, 0): int(rng.integers(50, 60)) for f in range(1, 6)}
    a = {k: v + int(rng.integers(0, 6)) for k, v in base.items()}
    b = {k: v + int(rng.integers(2, 9)) for k, v in base.items()}
    family = [compare_cv(runs(a), runs(base)), compare_cv(runs(b), runs(base))]
    family = [c.as_dict() for c in (*family, compare_cv(runs(b), runs(a)))]
    adjust_family(family)
    raw = [c["corrected"]["p"] for c in family]
    expected = multipletests(raw, method="holm")[1]
    assert [c["p_holm"] for c in family] == pytest.approx(list(expected))
    assert [c["significant"] for c in family] == [bool(p < 0.05) for p in expected]


@pytest.mark.parametrize(
    "p", [[0.01, 0.04, 0.03], [0.001, 0.2, 0.012, 0.049], [0.04, 0.04, 0.04], [0.003, 0.004]]
)
def test_the_holm_interval_excludes_zero_exactly_when_holm_says_real(p):
    levels = holm_levels(p)
    for q, level, adjusted in zip(p, levels, holm(p), strict=True):
        assert (q < level) is (adjusted < 0.05)  # the step-matched level agrees with Holm
    assert holm_levels([0.001, 0.2, 0.012, 0.049]) == pytest.approx(
        [0.05 / 4, 0.05 / 2, 0.05 / 3, 0.05 / 2]  # the test at 0.049 stops at 0.025
    )


def test_exact_wilcoxon_with_tied_ranks_enumerates_every_sign():
    d = [Fraction(1), Fraction(1), Fraction(2), Fraction(3), Fraction(-1), Fraction(0)]
    nz = [1, 1, 2, 3, -1]
    ranks = stats.rankdata(np.abs(nz))
    observed = min(
        sum(r for r, x in zip(ranks, nz, strict=True) if x > 0),
        sum(r for r, x in zip(ranks, nz, strict=True) if x < 0),
    )
    null = [
        min(
            sum(r for r, s in zip(ranks, signs, strict=True) if s > 0),
            sum(r for r, s in zip(ranks, signs, strict=True) if s < 0),
        )
        for signs in itertools.product((1, -1), repeat=5)
    ]
    p = sum(v <= observed for v in null) / len(null)
    assert wilcoxon_exact(d) == pytest.approx(p) == pytest.approx(0.25)
    assert wilcoxon_min_p(5) == 0.0625 and wilcoxon_min_p(10) == pytest.approx(2 / 1024)


def test_test_train_ratio_from_the_fold_sizes():
    assert holdout_ratio([Score(60, 80, 320)] * 5) == 0.25
    us8k = [(873, 7859), (888, 7844), (925, 7807), (990, 7742), (936, 7796)]
    ratio = holdout_ratio([Score(500, t, n) for t, n in us8k])
    assert ratio == pytest.approx(np.mean([t / n for t, n in us8k]))
    assert 1 / 9.5 < ratio < 1 / 7.5
    assert holdout_ratio([Score(60, 80, None)]) is None


def test_mcnemar_per_seed_and_the_clip_vote_across_seeds():
    clips = [f"c{i}" for i in range(40)]
    rng = np.random.default_rng(2)
    cand = {s: {c: bool(rng.random() < 0.8) for c in clips} for s in range(3)}
    ref = {s: {c: bool(rng.random() < 0.6) for c in clips} for s in range(3)}
    one = mcnemar(cand[0], ref[0])
    b = sum(cand[0][c] and not ref[0][c] for c in clips)
    k = sum(ref[0][c] and not cand[0][c] for c in clips)
    assert (one.candidate_only, one.reference_only) == (b, k)
    assert one.p_value == pytest.approx(stats.binomtest(b, b + k, 0.5).pvalue)
    assert clip_vote({0: cand[0]}, {0: ref[0]}) == one  # one seed: exactly McNemar
    vote = clip_vote(cand, ref)
    wins = sum(sum(cand[s][c] for s in range(3)) > sum(ref[s][c] for s in range(3)) for c in clips)
    losses = sum(
        sum(cand[s][c] for s in range(3)) < sum(ref[s][c] for s in range(3)) for c in clips
    )
    assert (vote.candidate_only, vote.reference_only, vote.n_clips) == (wins, losses, 40)
    assert vote.p_value == pytest.approx(stats.binomtest(wins, wins + losses, 0.5).pvalue)


def test_row_spread_keeps_the_seed_spread_apart_from_the_folds():
    r = runs({(f, s): 60 + 2 * f + s for f in range(1, 6) for s in range(3)})
    out = row_spread(r)
    folds = [(60 + 2 * f + 1) / 80 for f in range(1, 6)]
    ci = stats.ttest_1samp(folds, 0).confidence_interval(0.95)
    assert out["interval"]["n"] == 5
    assert (out["interval"]["low"], out["interval"]["high"]) == pytest.approx((ci.low, ci.high))
    assert out["seed_sd"] == pytest.approx(1 / 80)
