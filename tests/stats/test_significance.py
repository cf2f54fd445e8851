"""Intervals and paired tests on numbers whose answer is known."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from fpam_lightning.stats.significance import (
    mcnemar,
    mean_interval,
    paired_difference,
    seed_averaged,
)


def runs(values, dataset="esc10", seeds=(0, 1, 2)):
    """{(data set, fold, seed): accuracy} over 5 folds x len(seeds) seeds, in that order."""
    it = iter(values)
    return {(dataset, f, s): next(it) for f in range(1, 6) for s in seeds}


def test_mean_interval_is_the_student_t_interval():
    v = [0.70, 0.75, 0.80, 0.78, 0.72]
    iv = mean_interval(v)
    half = stats.t.ppf(0.975, 4) * np.std(v, ddof=1) / np.sqrt(5)
    assert iv.mean == pytest.approx(0.75)
    assert (iv.low, iv.high) == pytest.approx((0.75 - half, 0.75 + half))
    assert mean_interval([]).mean is None and mean_interval([0.5]).n == 1


def test_a_consistent_gain_is_significant():
    rng = np.random.default_rng(0)
    ref = rng.uniform(0.6, 0.8, 15)
    cand = ref + 0.05 + rng.normal(0, 0.01, 15)
    d = paired_difference(runs(cand), runs(ref))
    assert d.n == 15 and d.significant is True
    assert d.low > 0 and d.mean == pytest.approx(np.mean(cand - ref))
    assert d.p_ttest < 0.001 and d.p_wilcoxon < 0.01


def test_noise_around_zero_is_not_significant():
    ref = np.full(15, 0.75)
    cand = ref + np.array([0.03, -0.03, 0.02, -0.025, 0.01] * 3)
    d = paired_difference(runs(cand), runs(ref))
    assert d.significant is False and d.low < 0 < d.high and d.p_ttest > 0.5


def test_different_data_sets_are_never_paired():
    a = runs(np.full(15, 0.9), dataset="esc10")
    b = runs(np.full(15, 0.7), dataset="esc50")
    d = paired_difference(a, b)
    assert d.n == 0 and d.mean is None and d.significant is None


def test_seed_averaging_gives_one_value_per_fold():
    acc = runs([0.7, 0.8, 0.9] * 5)
    folds = seed_averaged(acc)
    assert list(folds) == [("esc10", f) for f in range(1, 6)]
    assert all(v == pytest.approx(0.8) for v in folds.values())


def test_mcnemar_on_discordant_clips():
    clips = range(100)
    ref = {c: c < 60 for c in clips}  # 60 right
    better = {c: c < 78 for c in clips}  # 18 more right, none lost
    m = mcnemar(better, ref)
    assert (m.candidate_only, m.reference_only) == (18, 0) and m.significant is True
    assert m.p_value == pytest.approx(stats.binomtest(18, 18).pvalue)
    mixed = {c: (c < 57) or (60 <= c < 64) for c in clips}  # 3 lost, 4 gained
    m2 = mcnemar(mixed, ref)
    assert (m2.candidate_only, m2.reference_only) == (4, 3) and m2.significant is False
    assert mcnemar({("a.wav", 0): True}, {("b.wav", 0): True}) is None  # no shared clip


def test_the_same_shift_on_every_pair_is_judged_by_the_signed_rank_test():
    ref = runs(np.linspace(0.6, 0.8, 15))
    d = paired_difference({k: v + 0.05 for k, v in ref.items()}, ref)
    assert d.p_ttest is None and d.p_wilcoxon < 0.001 and d.significant is True
    same = paired_difference(ref, ref)
    assert same.mean == 0 and same.significant is False
