"""Paired tests between two configurations of a cross-validation, with the fold as the unit.

What a comparison is made of:

- A run's score is a count of clips (`Score`: right, tested, trained on), never a float
  accuracy: results.json stores float32 accuracies, and a difference of two of them is not
  exactly a number of clips, which breaks equality (is the spread zero?) and Wilcoxon's ties.
  Differences here are exact fractions (`fractions.Fraction`).
- The fold is the unit. The seeds of one fold share its test clips and its training clips, so
  they are repetitions of one measurement, not independent pairs: a fold's difference is the
  mean over the seeds both configurations ran on it, and the tests pair over folds (n = folds).
  The seed-to-seed spread is reported on its own (`seed_sd`, the pooled within-fold standard
  deviation of the run differences): training noise, not evidence.
- The headline test is the corrected resampled t of Nadeau and Bengio (2003): the folds' training
  sets overlap, so the fold differences are correlated and the plain t's variance s²/n is too
  small; it becomes (1/n + n_test/n_train) s². The ratio comes from the runs (ESC's 5 folds:
  80/320 = 1/4; UrbanSound8K's 10 folds: about 1/9). Bouckaert and Frank (2004) apply the same
  correction to r repetitions of k-fold CV over all k*r results (1/(k r) + ratio, df k r - 1);
  that form assumes each repetition draws a new partition. Our repetitions are seeds on the same
  official folds (same test clips), far more correlated than that form allows for, so the seeds
  are averaged first and the correction is applied over the k folds: Bouckaert and Frank's form
  with r = 1. Their over-all-runs figure is kept in the record (`corrected_all_runs`) for
  reference only; it is optimistic here and never the headline.
- Beside it: the plain paired t over folds (`scipy.stats.ttest_1samp`) and the exact Wilcoxon
  signed-rank test (every sign pattern enumerated, so tied ranks are exact; zero differences
  dropped), with the smallest p that test can reach with the folds at hand (2 / 2^n: 0.0625 for
  five folds, so five folds can never give it p < 0.05).
- No spread, no t: when every fold's difference is the same (a shift of one clip per fold, or
  identical runs) the t statistic is undefined, and so is any interval; nothing is printed as a
  95 % interval then. One fold gives no interval either.
- d_z: the mean fold difference over the standard deviation of the fold differences.
- A table's comparisons are a family: `holm` adjusts their headline p-values together
  (Holm 1979; checked against statsmodels' `multipletests` in the tests).
- McNemar's test on the clips (`mcnemar`, `clip_vote`) is conditional on the trained models:
  it asks whether these particular models differ on these clips, pools the k different models of
  the k folds, and says nothing about retraining. Per seed it is the exact McNemar test; across
  seeds (`clip_vote`) each clip counts once: the candidate wins a clip when more of its seeds
  got it right than the reference's seeds did, loses it when fewer did, and an exact two-sided
  sign test is run on wins against losses (with one seed, exactly McNemar's test).

Nothing here imports torch: the summaries run where no model does.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from fractions import Fraction
from typing import Any

import numpy as np
from scipy import stats

CONFIDENCE = 0.95
ALPHA = 1 - CONFIDENCE

RunKey = tuple[str, int, int]  # (data set, fold, seed): what makes two runs comparable
FoldKey = tuple[str, int]  # (data set, fold): the unit of a paired test

VERDICT_RULE = (
    "Verdict: a difference is called real when the corrected resampled t-test (Nadeau-Bengio, "
    "over folds, seeds averaged within each fold) gives p < 0.05 after Holm's adjustment across "
    "the table's comparisons; 'no' otherwise, and '–' when the t is undefined (fewer than two "
    "folds, or the same difference on every fold). The plain paired t, the exact Wilcoxon "
    "signed-rank test (with the smallest p its n can reach) and McNemar's test on the clips are "
    "shown beside it, not used for the verdict."
)


# --- a run's score, in clips ------------------------------------------------------------------
@dataclass(frozen=True)
class Score:
    """One run on its held-out fold: clips right, clips tested and clips trained on."""

    correct: int
    total: int
    train: int | None = None

    @property
    def accuracy(self) -> Fraction:
        return Fraction(self.correct, self.total)


def score_of(accuracy: float, total: int, train: int | None = None) -> Score:
    """The clip count behind a stored accuracy (float32 in results.json): round(acc * total).

    Fails when the accuracy is not on the clip grid, i.e. was not computed over `total` clips.
    """
    exact = float(accuracy) * int(total)
    correct = round(exact)
    if total <= 0 or abs(exact - correct) > 1e-3:
        raise ValueError(f"accuracy {accuracy} is not a whole number of clips out of {total}")
    return Score(int(correct), int(total), None if train is None else int(train))


# --- intervals of one configuration -------------------------------------------------------------
@dataclass
class Interval:
    """A mean with its 95 % Student-t interval; low/high are None when there is no interval
    (one value, or no spread): never a zero-width interval."""

    mean: float | None
    low: float | None
    high: float | None
    n: int

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def mean_interval(values: Sequence[float | Fraction], confidence: float = CONFIDENCE) -> Interval:
    v = list(values)
    if not v:
        return Interval(None, None, None, 0)
    mean = float(sum(Fraction(x) for x in v) / len(v))
    if len(v) < 2 or all(Fraction(x) == Fraction(v[0]) for x in v):
        return Interval(mean, None, None, len(v))
    ci = stats.ttest_1samp(np.asarray(v, dtype=float), 0.0).confidence_interval(confidence)
    return Interval(mean, float(ci.low), float(ci.high), len(v))


def by_fold(scores: Mapping[RunKey, Score]) -> dict[FoldKey, list[Score]]:
    out: dict[FoldKey, list[Score]] = {}
    for (dataset, fold, _seed), s in sorted(scores.items()):
        out.setdefault((dataset, fold), []).append(s)
    return out


def fold_accuracies(scores: Mapping[RunKey, Score]) -> dict[FoldKey, Fraction]:
    """Each fold's accuracy averaged over its seeds (exact), so that every fold counts once."""
    folds = by_fold(scores)
    return {k: sum((s.accuracy for s in v), Fraction(0)) / len(v) for k, v in folds.items()}


def seed_sd(groups: Iterable[Sequence[float | Fraction]]) -> float | None:
    """Pooled within-group sample standard deviation (groups: a fold's seeds); None without two
    values in any group."""
    ss, df = Fraction(0), 0
    for g in groups:
        g = [Fraction(x) for x in g]
        if len(g) > 1:
            m = sum(g) / len(g)
            ss += sum((x - m) ** 2 for x in g)
            df += len(g) - 1
    return math.sqrt(ss / df) if df else None


# --- the paired comparison ----------------------------------------------------------------------
@dataclass
class FoldDifference:
    dataset: str
    fold: int
    seeds: list[int]
    difference: Fraction  # candidate - reference accuracy, mean over the shared seeds
    clips: Fraction | None  # the same in clips, where both sides tested the same number

    def as_dict(self) -> dict[str, Any]:
        return {
            "dataset": self.dataset,
            "fold": self.fold,
            "seeds": self.seeds,
            "difference": float(self.difference),
            "clips": None if self.clips is None else float(self.clips),
        }


@dataclass
class TTest:
    t: float | None
    df: int
    p: float | None
    low: float | None
    high: float | None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class CVComparison:
    """`candidate - reference` over the folds both ran, in accuracy units (0..1)."""

    n: int  # folds paired
    mean: float | None
    per_fold: list[dict[str, Any]]
    seed_sd: float | None
    test_train_ratio: float | None
    corrected: TTest | None  # the headline: Nadeau-Bengio over folds
    ttest: TTest | None  # plain paired t over folds
    wilcoxon_p: float | None
    wilcoxon_min_p: float | None  # the smallest p the exact test can give with these folds
    d_z: float | None
    undefined: str | None  # why the t (and any interval) is undefined
    corrected_all_runs: float | None  # Bouckaert-Frank over all runs: reference only
    runs_paired: int = 0
    unequal_seeds: bool = False
    unpaired_runs: list[str] = field(default_factory=list)  # runs of one side only
    p_holm: float | None = None
    significant: bool | None = None

    @property
    def p(self) -> float | None:
        """The headline p-value (corrected t), before any family adjustment."""
        return None if self.corrected is None else self.corrected.p

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["corrected"] = None if self.corrected is None else self.corrected.as_dict()
        out["ttest"] = None if self.ttest is None else self.ttest.as_dict()
        out["p"] = self.p
        return out


def fold_differences(
    candidate: Mapping[RunKey, Score], reference: Mapping[RunKey, Score]
) -> list[FoldDifference]:
    """Per fold both ran: the mean over their shared seeds of the runs' differences (exact)."""
    shared = sorted(set(candidate) & set(reference))
    folds: dict[FoldKey, list[int]] = {}
    for dataset, fold, seed in shared:
        folds.setdefault((dataset, fold), []).append(seed)
    out = []
    for (dataset, fold), seeds in folds.items():
        pairs = [(candidate[(dataset, fold, s)], reference[(dataset, fold, s)]) for s in seeds]
        diff = sum((a.accuracy - b.accuracy for a, b in pairs), Fraction(0)) / len(pairs)
        same_n = all(a.total == b.total == pairs[0][0].total for a, b in pairs)
        clips = diff * pairs[0][0].total if same_n else None
        out.append(FoldDifference(dataset, fold, list(seeds), diff, clips))
    return out


def holdout_ratio(runs: Sequence[Score]) -> float | None:
    """n_test / n_train averaged over the runs (ESC-10: 80 / 320); None if any run lacks it."""
    if not runs or any(not s.train for s in runs):
        return None
    return float(sum(Fraction(s.total, s.train) for s in runs) / len(runs))


def _t(mean: float, var: float, n: int, scale: float, confidence: float) -> TTest:
    se = math.sqrt(scale * var)
    t = mean / se
    p = float(2 * stats.t.sf(abs(t), n - 1))
    half = float(stats.t.ppf(0.5 + confidence / 2, n - 1)) * se
    return TTest(float(t), n - 1, p, mean - half, mean + half)


def wilcoxon_min_p(n_nonzero: int) -> float:
    """The smallest two-sided p the exact signed-rank test can give: every sign the same."""
    return min(1.0, 2.0 / 2**n_nonzero)


def wilcoxon_exact(d: Sequence[Fraction]) -> float | None:
    """Exact signed-rank p (all sign patterns, so tied ranks are exact; zeros dropped)."""
    nonzero = [float(x) for x in d if x != 0]
    if not nonzero:
        return None
    if len(nonzero) == 1:  # one pair: both signs equally likely, p = 1
        return 1.0
    method = stats.PermutationMethod(n_resamples=np.inf)
    return float(stats.wilcoxon(nonzero, method=method).pvalue)


def compare_cv(
    candidate: Mapping[RunKey, Score],
    reference: Mapping[RunKey, Score],
    confidence: float = CONFIDENCE,
) -> CVComparison:
    """The paired comparison over folds (seeds averaged within a fold); see the module text."""
    folds = fold_differences(candidate, reference)
    shared = set(candidate) & set(reference)
    unpaired = sorted(set(candidate) ^ set(reference))
    used = [candidate[k] for k in shared] + [reference[k] for k in shared]
    ratio = holdout_ratio(used)
    n = len(folds)
    d = [f.difference for f in folds]
    runs_d: dict[FoldKey, list[Fraction]] = {}  # per fold: each shared seed's run difference
    for k in sorted(shared):
        runs_d.setdefault(k[:2], []).append(candidate[k].accuracy - reference[k].accuracy)
    out = CVComparison(
        n=n,
        mean=None if not n else float(sum(d) / n),
        per_fold=[f.as_dict() for f in folds],
        seed_sd=seed_sd(runs_d.values()),
        test_train_ratio=ratio,
        corrected=None,
        ttest=None,
        wilcoxon_p=wilcoxon_exact(d),
        wilcoxon_min_p=wilcoxon_min_p(sum(1 for x in d if x != 0)) if n else None,
        d_z=None,
        undefined=None,
        corrected_all_runs=None,
        runs_paired=len(shared),
        unequal_seeds=len({len(f.seeds) for f in folds}) > 1,
        unpaired_runs=[f"{ds}/{fold}/{seed}" for ds, fold, seed in unpaired],
    )
    if n < 2:
        out.undefined = "one fold: no spread to test against" if n else "no fold in common"
        return out
    mean = sum(d) / n
    var = sum((x - mean) ** 2 for x in d) / (n - 1)  # exact: zero means zero
    if var == 0:
        out.undefined = "the same difference on every fold: no spread, the t is undefined"
        return out
    m, v = float(mean), float(var)
    out.ttest = _t(m, v, n, 1 / n, confidence)
    plain = stats.ttest_1samp(np.asarray(d, dtype=float), 0.0)  # the same, from scipy
    out.ttest.p = float(plain.pvalue)
    out.d_z = m / math.sqrt(v)
    if ratio is None:
        out.undefined = "no training-set size in the runs: the corrected t needs n_test/n_train"
        return out
    out.corrected = _t(m, v, n, 1 / n + ratio, confidence)
    all_runs = [x for xs in runs_d.values() for x in xs]
    if len(all_runs) > n:
        ma = sum(all_runs) / len(all_runs)
        va = sum((x - ma) ** 2 for x in all_runs) / (len(all_runs) - 1)
        if va:
            bf = _t(float(ma), float(va), len(all_runs), 1 / len(all_runs) + ratio, confidence)
            out.corrected_all_runs = bf.p
    return out


# --- a family of comparisons --------------------------------------------------------------------
def holm(pvalues: Sequence[float | None]) -> list[float | None]:
    """Holm's step-down adjustment; None (no test) stays None and is not counted in the family."""
    idx = [i for i, p in enumerate(pvalues) if p is not None]
    m = len(idx)
    out: list[float | None] = [None] * len(pvalues)
    running = 0.0
    for rank, i in enumerate(sorted(idx, key=lambda i: pvalues[i])):
        running = max(running, min(1.0, (m - rank) * float(pvalues[i])))
        out[i] = running
    return out


def adjust_family(comparisons: Sequence[CVComparison], alpha: float = ALPHA) -> None:
    """Holm across a table's comparisons (headline p), and each one's verdict from it."""
    for c, p in zip(comparisons, holm([c.p for c in comparisons]), strict=True):
        c.p_holm = p
        c.significant = None if p is None else p < alpha


# --- clip by clip ---------------------------------------------------------------------------------
@dataclass
class McNemar:
    """Clips only the candidate wins, only the reference wins, clips compared, and the p-value."""

    candidate_only: int
    reference_only: int
    n_clips: int
    p_value: float

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _sign_test(b: int, c: int, n: int) -> McNemar:
    p = 1.0 if b + c == 0 else float(stats.binomtest(b, b + c, 0.5).pvalue)
    return McNemar(b, c, n, p)


def mcnemar(
    candidate_correct: Mapping[Any, bool], reference_correct: Mapping[Any, bool]
) -> McNemar | None:
    """Exact McNemar test over the clips both were scored on; None when they share no clip."""
    keys = set(candidate_correct) & set(reference_correct)
    if not keys:
        return None
    b = sum(1 for k in keys if candidate_correct[k] and not reference_correct[k])
    c = sum(1 for k in keys if reference_correct[k] and not candidate_correct[k])
    return _sign_test(b, c, len(keys))


def clip_vote(
    candidate: Mapping[int, Mapping[Any, bool]], reference: Mapping[int, Mapping[Any, bool]]
) -> McNemar | None:
    """One test across seeds, each clip once: a clip is won by the side more of whose seeds got
    it right (over the seeds both ran), and the sign test runs on wins against losses."""
    seeds = sorted(set(candidate) & set(reference))
    if not seeds:
        return None
    clips = set.intersection(*(set(candidate[s]) & set(reference[s]) for s in seeds))
    if not clips:
        return None
    b = c = 0
    for clip in clips:
        diff = sum(int(candidate[s][clip]) - int(reference[s][clip]) for s in seeds)
        b += diff > 0
        c += diff < 0
    return _sign_test(b, c, len(clips))


def row_spread(scores: Mapping[RunKey, Score]) -> dict[str, Any]:
    """A configuration over its folds: fold-mean interval and the seed-to-seed spread apart."""
    per_fold = fold_accuracies(scores)
    seeds = {k: [s.accuracy for s in v] for k, v in by_fold(scores).items()}
    values = list(per_fold.values())
    return {
        "interval": mean_interval(values).as_dict(),
        "fold_sd": statistics.stdev(map(float, values)) if len(values) > 1 else None,
        "seed_sd": seed_sd(seeds.values()),
    }
