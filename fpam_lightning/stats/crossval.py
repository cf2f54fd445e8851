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
- Clip-honest: a fold's difference is decided in clips (`FoldDifference.clips`), never in
  accuracy fractions, whose spread is not zero when +1 clip is +1/80 on one fold and +1/79 on
  the next. And a fold's difference is never more certain than the clips that made it: a
  paired difference of proportions over n clips with b + c discordant clips (won by one side
  only) has variance (b + c) / n^2 from its clips alone (McNemar's, without the b - c term).
  A count of one or two discordant clips is not read as certainty: as in Bonett and Price's
  adjusted Wald interval for paired proportions (2012), one is added to each discordant cell,
  so a run's floor is (b + c + 2) / (n + 2)^2. b + c is counted from predictions.csv where
  both runs kept it; otherwise |clips gained - lost| is used, the smallest b + c the two
  accuracies allow (the floor is then the least the clips imply). The seeds of a fold share its
  clips, and how much of their clip noise cancels in the seed average is what five folds cannot
  tell, so none is assumed to cancel: a fold's floor is the mean of its runs' floors, and more
  seeds never shrink it. Both t tests then use the larger of the folds' observed variance and
  the mean of the folds' floors: the observed variance estimates the same per-fold variance,
  which contains the clips' sampling variance, so it cannot truly be smaller (`FLOOR_NOTE`). A
  shift of a clip or two per fold is therefore never real, whatever the fold sizes (+1 clip on
  each of UrbanSound8K's ten folds: p 0.24; +2: 0.058); a large consistent gain still is.
- No t with fewer than two folds (one fold gives no interval either). Identical runs are
  tested like any others (the floor is never zero): p 1.
- d_z: the mean fold difference over the observed standard deviation of the fold differences
  (none when every fold differs by the same number of clips).
- What a comparison could resolve (`resolve`): the smallest difference it could have called real
  (the half-width of its Holm-adjusted interval) and, when unresolved, the clips per fold or the
  folds that 80 % power at the observed difference would need (`needed_for_power`).
- A table's comparisons are a family: `holm` adjusts their headline p-values together
  (Holm 1979; checked against statsmodels' `multipletests` in the tests). Each comparison also
  gets a Holm-adjusted interval, step-matched (`holm_levels`): the r-th smallest p is tested at
  alpha / (m - r + 1) until the first one that fails, and every later one at that failed
  step's level, so the interval excludes zero exactly when the verdict says real.
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
    "the table's comparisons; 'no' otherwise, and '–' when there is nothing to test (fewer than "
    "two folds). Each fold's difference carries at least the variance its clips imply ((b + c + "
    "2) / (n + 2)^2, b + c its discordant clips, or |clips gained - lost| without predictions), "
    "so a shift of a clip or two per fold is never real. The "
    "corrected 95% CI is for the comparison alone; the Holm-adjusted CI (step-matched) is the one "
    "that agrees with the verdict, and its half-width is the smallest difference the sweep could "
    "call real. The plain paired t, the exact Wilcoxon signed-rank test (with the smallest p its "
    "n can reach) and McNemar's test on the clips are shown beside it, not used for the verdict."
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
    clips: Fraction  # the same in clips: mean over the seeds of clips gained - lost
    n_test: float  # clips tested (mean over the seeds: one number when the runs agree)
    floor: Fraction  # the variance the fold's clips alone imply (accuracy units), see module
    discordant: bool  # whether b + c was counted from predictions (else |clips| bounds it)

    def as_dict(self) -> dict[str, Any]:
        return {
            "dataset": self.dataset,
            "fold": self.fold,
            "seeds": self.seeds,
            "difference": float(self.difference),
            "clips": float(self.clips),
            "n_test": self.n_test,
            "floor": float(self.floor),
            "discordant_counted": self.discordant,
        }


@dataclass
class TTest:
    t: float | None
    df: int
    p: float | None
    low: float | None
    high: float | None
    se: float | None = None

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
    mismatched_runs: list[str] = field(default_factory=list)  # pairs of unequal num_test
    var_observed: float | None = None  # sample variance of the fold differences
    var_floor: float | None = None  # mean of the folds' clip floors
    floored: bool = False  # the floor, not the observed spread, set the variance
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


def _pairs(
    candidate: Mapping[RunKey, Score], reference: Mapping[RunKey, Score]
) -> tuple[list[RunKey], list[str]]:
    """The runs both sides ran on the same clips, and those whose num_test disagrees (left out:
    accuracies over different clips are not a paired difference)."""
    shared = sorted(set(candidate) & set(reference))
    bad = [k for k in shared if candidate[k].total != reference[k].total]
    notes = [
        f"{ds}/{fold}/{seed}: num_test {candidate[(ds, fold, seed)].total} against "
        f"{reference[(ds, fold, seed)].total}"
        for ds, fold, seed in bad
    ]
    return [k for k in shared if k not in bad], notes


def fold_differences(
    candidate: Mapping[RunKey, Score],
    reference: Mapping[RunKey, Score],
    discordant: Mapping[RunKey, int] | None = None,
) -> list[FoldDifference]:
    """Per fold both ran: the mean over their shared seeds of the runs' differences (exact), in
    accuracy and in clips, and the fold's clip floor (see the module text)."""
    discordant = discordant or {}
    folds: dict[FoldKey, list[int]] = {}
    for dataset, fold, seed in _pairs(candidate, reference)[0]:
        folds.setdefault((dataset, fold), []).append(seed)
    out = []
    for (dataset, fold), seeds in folds.items():
        keys = [(dataset, fold, s) for s in seeds]
        pairs = [(candidate[k], reference[k]) for k in keys]
        diff = sum((a.accuracy - b.accuracy for a, b in pairs), Fraction(0)) / len(pairs)
        gained = [a.correct - b.correct for a, b in pairs]
        counted = all(k in discordant for k in keys)
        bc = [max(discordant.get(k, 0), abs(g)) for k, g in zip(keys, gained, strict=True)]
        floor = sum(
            (Fraction(x + 2, (a.total + 2) ** 2) for x, (a, _) in zip(bc, pairs, strict=True)),
            Fraction(0),
        ) / len(pairs)
        n_test = statistics.fmean(a.total for a, _ in pairs)
        out.append(
            FoldDifference(
                dataset, fold, list(seeds), diff, Fraction(sum(gained), len(pairs)), n_test,
                floor, counted,
            )
        )  # fmt: skip
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
    return TTest(float(t), n - 1, p, mean - half, mean + half, se)


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
    method = stats.PermutationMethod(n_resamples=np.inf)  # scipy >= 1.12 (pyproject.toml)
    return float(stats.wilcoxon(nonzero, method=method).pvalue)


FLOOR_NOTE = (
    "the folds' spread ({observed} clips sd) is below what their clips alone imply ({floor} "
    "clips sd): the clips' floor sets the variance"
)


def compare_cv(
    candidate: Mapping[RunKey, Score],
    reference: Mapping[RunKey, Score],
    confidence: float = CONFIDENCE,
    discordant: Mapping[RunKey, int] | None = None,
) -> CVComparison:
    """The paired comparison over folds (seeds averaged within a fold); see the module text.

    `discordant`: per run both sides kept predictions for, its clips won by one side only
    (b + c); runs without it are floored by |clips gained - lost|.
    """
    folds = fold_differences(candidate, reference, discordant)
    shared, mismatched = _pairs(candidate, reference)
    unpaired = sorted(set(candidate) ^ set(reference))
    used = [candidate[k] for k in shared] + [reference[k] for k in shared]
    ratio = holdout_ratio(used)
    n = len(folds)
    d = [f.difference for f in folds]
    runs_d: dict[FoldKey, list[Fraction]] = {}  # per fold: each shared seed's run difference
    for k in shared:
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
        mismatched_runs=mismatched,
    )
    if n < 2:
        out.undefined = "one fold: no spread to test against" if n else "no fold in common"
        return out
    mean = sum(d) / n
    var = sum((x - mean) ** 2 for x in d) / (n - 1)  # exact: zero means zero
    floor = sum((f.floor for f in folds), Fraction(0)) / n if ratio is not None else Fraction(0)
    out.var_observed, out.var_floor = float(var), float(floor)
    if var == 0 and floor == 0:
        out.undefined = "no clip differs on any fold: nothing to test"
        return out
    same_clips = len({f.clips for f in folds}) == 1
    out.floored = floor > var
    m, v = float(mean), float(max(var, floor))
    out.ttest = _t(m, v, n, 1 / n, confidence)
    if not out.floored:  # the same as scipy's, which the tests check
        out.ttest.p = float(stats.ttest_1samp(np.asarray(d, dtype=float), 0.0).pvalue)
    out.d_z = None if same_clips else m / math.sqrt(var)
    if ratio is None:
        out.undefined = "no training-set size in the runs: the corrected t needs n_test/n_train"
        return out
    out.corrected = _t(m, v, n, 1 / n + ratio, confidence)
    all_runs = [x for xs in runs_d.values() for x in xs]
    if len(all_runs) > n:
        ma = sum(all_runs) / len(all_runs)
        va = sum((x - ma) ** 2 for x in all_runs) / (len(all_runs) - 1)
        va = max(va, floor)
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


def holm_levels(pvalues: Sequence[float | None], alpha: float = ALPHA) -> list[float | None]:
    """The two-sided level each comparison is tested at by Holm's procedure, step-matched: the
    r-th smallest p (of m) at alpha / (m - r + 1) until the first that fails; that one and all
    after it at the failed step's level. An interval at this level excludes zero exactly when
    Holm calls the difference real."""
    idx = sorted((i for i, p in enumerate(pvalues) if p is not None), key=lambda i: pvalues[i])
    out: list[float | None] = [None] * len(pvalues)
    stopped: float | None = None
    for rank, i in enumerate(idx):
        level = stopped or alpha / (len(idx) - rank)
        if stopped is None and float(pvalues[i]) >= level:
            stopped = level
        out[i] = level
    return out


def power(effect: float, se: float, df: int, alpha: float) -> float:
    """Two-sided power of a t test with `df` at `alpha` when the true difference is `effect`."""
    crit, ncp = stats.t.ppf(1 - alpha / 2, df), abs(effect) / se
    return float(stats.nct.sf(crit, df, ncp) + stats.nct.cdf(-crit, df, ncp))


POWER = 0.8


def needed_for_power(d: Mapping[str, Any], alpha: float) -> dict[str, Any]:
    """What 80 % power at the observed difference (at `alpha`) would need: clips per fold (the
    same folds), or folds (of the same clips each). The variance splits into the clips' part
    (the floor, which shrinks as 1/clips per fold) and the models' part (the observed variance
    beyond the floor, which more clips do not shrink). More folds of the same size also shrink
    n_test/n_train. More seeds appear nowhere: they average training noise within a fold but
    neither the clips' part nor the folds' spread that the corrected t is made of."""
    effect, k, ratio = abs(d["mean"]), d["n"], d["test_train_ratio"]
    floor, var = d["var_floor"], max(d["var_observed"], d["var_floor"])
    n_clips = statistics.fmean(f["n_test"] for f in d["per_fold"])
    if not effect:
        return {"clips_per_fold": None, "folds": None, "why": "no difference observed"}
    models = var - floor

    def at_clips(n: float) -> float:
        se = math.sqrt((1 / k + ratio) * (models + floor * n_clips / n))
        return power(effect, se, k - 1, alpha)

    def at_folds(j: int) -> float:
        se = math.sqrt((1 / j + ratio * (k - 1) / (j - 1)) * var)
        return power(effect, se, j - 1, alpha)

    clips = None
    n, top = n_clips, 1000 * n_clips
    while n <= top and at_clips(n) < POWER:
        n *= 2
    if n <= top:  # bisect between n / 2 and n on whole clips
        lo, hi = int(n // 2), math.ceil(n)
        while hi - lo > 1:
            mid = (lo + hi) // 2
            lo, hi = (mid, hi) if at_clips(mid) < POWER else (lo, mid)
        clips = hi
    folds = next((j for j in range(k, 1001) if at_folds(j) >= POWER), None)
    return {"clips_per_fold": clips, "folds": folds, "power_now": at_clips(n_clips)}


def resolve(
    d: dict[str, Any], p_holm: float | None, level: float | None, alpha: float = ALPHA
) -> None:
    """A comparison's verdict from its Holm p, its Holm-adjusted interval, the smallest
    difference it could have called real, and what 80 % power would need when unresolved."""
    d["p_holm"], d["holm_level"] = p_holm, level
    d["significant"] = None if p_holm is None else p_holm < alpha
    corr = d.get("corrected")
    if not corr or level is None:
        d["holm_interval"] = d["resolvable"] = d["needed"] = None
        return
    half = float(stats.t.ppf(1 - level / 2, corr["df"])) * corr["se"]
    d["holm_interval"] = {"low": d["mean"] - half, "high": d["mean"] + half, "level": level}
    d["resolvable"] = half  # |difference| above this would have been called real
    d["needed"] = None if d["significant"] else needed_for_power(d, level)


def adjust_family(family: Sequence[dict[str, Any]], alpha: float = ALPHA) -> None:
    """Holm across a table's comparisons (`CVComparison.as_dict()`s, headline p): each one's
    verdict, Holm-adjusted interval and resolution (`resolve`)."""
    pvalues = [d["p"] for d in family]
    for d, p, level in zip(family, holm(pvalues), holm_levels(pvalues, alpha), strict=True):
        resolve(d, p, level, alpha)


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
