"""Whether a difference between two configurations is real: intervals and paired tests.

Cross-validation accuracies are few (5 folds on ESC, 10 on UrbanSound8K) and not independent
(the training sets overlap), so every interval here is approximate and on the optimistic side.
The tests answer a narrow question: would this difference be surprising if the two
configurations were equally accurate on these folds and clips? They use scipy.stats:

- `mean_interval`: mean of per-fold accuracies (seed-averaged) with a Student-t interval.
- `paired_difference`: the mean difference over matched (data set, fold, seed) runs, its
  t-interval and the paired t-test p-value (`scipy.stats.ttest_rel`), plus Wilcoxon's
  signed-rank p-value, which does not assume normal differences.
- `mcnemar`: the exact McNemar test on pooled out-of-fold predictions of the same clips
  (a two-sided binomial test on the clips that exactly one configuration gets right).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from scipy import stats

CONFIDENCE = 0.95
ALPHA = 1 - CONFIDENCE

RunKey = tuple[str, int, int]  # (data set, fold, seed): what makes two runs comparable


@dataclass
class Interval:
    mean: float | None
    low: float | None
    high: float | None
    n: int

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class PairedDifference:
    """`candidate - reference` over the runs both have, in accuracy units (0..1)."""

    mean: float | None
    low: float | None
    high: float | None
    n: int
    p_ttest: float | None
    p_wilcoxon: float | None
    significant: bool | None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class McNemar:
    """Clips only the candidate gets right, only the reference gets right, and the p-value."""

    candidate_only: int
    reference_only: int
    n_clips: int
    p_value: float | None
    significant: bool | None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _finite(x: float) -> float | None:
    return float(x) if x is not None and math.isfinite(float(x)) else None


def mean_interval(values: Sequence[float], confidence: float = CONFIDENCE) -> Interval:
    """The mean with a Student-t interval; no interval from fewer than two values."""
    v = np.asarray(list(values), dtype=float)
    if len(v) == 0:
        return Interval(None, None, None, 0)
    if len(v) < 2 or np.all(v == v[0]):
        return Interval(float(v.mean()), float(v.mean()), float(v.mean()), len(v))
    ci = stats.ttest_1samp(v, 0.0).confidence_interval(confidence)
    return Interval(float(v.mean()), float(ci.low), float(ci.high), len(v))


def seed_averaged(acc: Mapping[RunKey, float]) -> dict[tuple[str, int], float]:
    """Per (data set, fold): the mean over seeds, so each fold counts once."""
    by_fold: dict[tuple[str, int], list[float]] = {}
    for (dataset, fold, _seed), a in acc.items():
        by_fold.setdefault((dataset, fold), []).append(a)
    return {k: float(np.mean(v)) for k, v in sorted(by_fold.items())}


def paired_difference(
    candidate: Mapping[RunKey, float],
    reference: Mapping[RunKey, float],
    confidence: float = CONFIDENCE,
) -> PairedDifference:
    """Paired over the (data set, fold, seed) runs both configurations have; none -> n = 0."""
    keys = sorted(set(candidate) & set(reference))
    d = np.array([candidate[k] - reference[k] for k in keys], dtype=float)
    if len(d) == 0:
        return PairedDifference(None, None, None, 0, None, None, None)
    p_w = None
    if len(d) >= 2 and np.any(d != 0):
        p_w = _finite(stats.wilcoxon(d, zero_method="zsplit").pvalue)
    if len(d) < 2 or np.all(d == d[0]):
        # No spread: the t-test is undefined. Identical runs are no evidence of a difference;
        # the same nonzero shift on every pair is judged by the signed-rank test alone.
        m = float(d.mean())
        significant = None if p_w is None and m != 0 else (p_w is not None and p_w < ALPHA)
        return PairedDifference(m, m, m, len(d), None, p_w, significant if len(d) >= 2 else None)
    t = stats.ttest_1samp(d, 0.0)
    ci = t.confidence_interval(confidence)
    p_t = _finite(t.pvalue)
    return PairedDifference(
        float(d.mean()),
        float(ci.low),
        float(ci.high),
        len(d),
        p_t,
        p_w,
        None if p_t is None else p_t < 1 - confidence,
    )


def mcnemar(
    candidate_correct: Mapping[Any, bool],
    reference_correct: Mapping[Any, bool],
    alpha: float = ALPHA,
) -> McNemar | None:
    """Exact McNemar test over the clips both were scored on (keyed by clip and seed).

    None when the two share no clip: predictions on different clips cannot be paired.
    """
    keys = set(candidate_correct) & set(reference_correct)
    if not keys:
        return None
    b = sum(1 for k in keys if candidate_correct[k] and not reference_correct[k])
    c = sum(1 for k in keys if reference_correct[k] and not candidate_correct[k])
    if b + c == 0:
        return McNemar(b, c, len(keys), 1.0, False)
    p = float(stats.binomtest(b, b + c, 0.5).pvalue)
    return McNemar(b, c, len(keys), p, p < alpha)
