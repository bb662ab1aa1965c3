"""Differences between leaderboard rows, paired question by question, with 95% intervals that
count both sources of noise: which test questions were drawn and which training seeds ran.

    rows = Rows(scores, means)     # label -> each run's per-question cells; label -> column means
    est = rows.estimate([("sft", "avg/id", 1), ("base", "avg/id", -1)])
    est.effect, est.low, est.high  # fractions (0.05 = 5 points)
    est.mde()                      # the smallest difference detectable (80% power, 5% two-sided)
    verdict(est)                   # "holds" (interval above 0), "does not hold" (below), "undecided"

A comparison is any weighted sum of rows' columns (reftbench.reports.columns): a method minus
the base, a method minus a method, or a difference of differences. Every method is scored on the
same questions, so each row's score is first averaged over its runs (seeds) per question and the
sum is taken per question: what is hard for one model is hard for the other and cancels. Its
variance has two kinds of parts, both estimated from the scores (docs/statistics.md):

- questions: the spread over questions of that per-question sum, over their number (per cell),
  less the part of it that is run-to-run luck (counted with the seeds instead);
- seeds: for each row with several runs, the spread of its runs' means over the number of runs.
  A row with one run (the base: a fixed model, no training seed) has none.

The interval is Student t with Welch-Satterthwaite degrees of freedom (a seed part estimated
from three runs has 2): arithmetic on the scores, no resampling, so the same scores always give
the same interval. experiments/verdict_coverage.py measures how often it covers the truth.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from scipy import stats

from reftbench.reports.columns import cells as measure_cells

# Two-sided confidence level of every interval, and the power a "smallest detectable
# difference" is quoted at.
LEVEL = 0.95
POWER = 0.80

HOLDS, FAILS, UNDECIDED = "holds", "does not hold", "undecided"
# Why an estimate has no interval.
NO_SCORES = "no per-question scores"
OTHER_QUESTIONS = "rows scored on different questions"


@dataclass(frozen=True)
class Estimate:
    """A comparison's value with its standard error and degrees of freedom (fractions of 1).

    `missing` says why there is no interval (the value then comes from the table's means);
    `effect` is None when even those are missing.
    """

    effect: float | None
    se: float | None = None
    df: float = math.inf
    level: float = LEVEL
    missing: str = ""
    # Fewest questions in a cell it used, and runs per row (label -> runs).
    questions: int = 0
    runs: dict = field(default_factory=dict)
    # Its variance in parts, to scale to other counts (None without an interval).
    parts: Parts | None = None

    @property
    def half_width(self) -> float | None:
        """Half the interval's width, or None without an interval."""
        if self.missing or self.se is None:
            return None
        return float(stats.t.ppf(0.5 + self.level / 2, self.df)) * self.se

    @property
    def low(self) -> float | None:
        return None if self.half_width is None else self.effect - self.half_width

    @property
    def high(self) -> float | None:
        return None if self.half_width is None else self.effect + self.half_width

    def at(self, level: float) -> Estimate:
        """The same estimate with a `level` interval."""
        return Estimate(self.effect, self.se, self.df, level, self.missing, self.questions,
                        self.runs, self.parts)

    def mde(self, power: float = POWER) -> float | None:
        """The smallest true difference this comparison finds (interval clear of zero) with
        probability `power`, at its questions, runs and noise: (t_(1-a/2) + t_power) x se."""
        if self.parts is None:
            return None
        return detectable(self.parts, level=self.level, power=power)


def verdict(est: Estimate, above: float = 0.0) -> str:
    """Whether "the value exceeds `above`" holds: the whole interval above it; does not hold:
    the whole interval below it; otherwise (or with no interval) undecided."""
    if est.missing or est.se is None:
        return UNDECIDED
    if est.low > above:
        return HOLDS
    if est.high < above:
        return FAILS
    return UNDECIDED


def all_of(verdicts: list[str]) -> str:
    """A claim made of parts that must all hold: it fails as soon as one part fails."""
    if FAILS in verdicts:
        return FAILS
    return HOLDS if all(v == HOLDS for v in verdicts) else UNDECIDED


def any_of(verdicts: list[str]) -> str:
    """A claim that one of several parts holds: it fails only when every part fails."""
    if HOLDS in verdicts:
        return HOLDS
    return FAILS if verdicts and all(v == FAILS for v in verdicts) else UNDECIDED


class Rows:
    """The leaderboard's rows, for comparisons.

    `scores`: label -> one entry per run, its cells (reftbench.evaluation.scores) or None when
    it has no per-question scores. `means`: label -> column -> mean over runs (or None), the
    table's numbers: the value of a comparison that cannot be paired.
    """

    def __init__(self, scores: dict[str, list[dict | None]],
                 means: dict[str, dict[str, float | None]], field_name: str = "strict"):
        self.scores, self.means, self.field = scores, means, field_name

    def __contains__(self, label: str) -> bool:
        return label in self.means

    def estimate(self, terms: list[tuple[str, str, float]], level: float = LEVEL) -> Estimate:
        """The value of sum(coef x row's column) over `terms` = [(label, column, coef)], with
        its interval when every row has per-question scores on the same questions."""
        point = self._from_means(terms)
        weights: dict[str, dict[str, float]] = {}
        for label, measure, coef in terms:
            for cell, w in measure_cells(measure).items():
                row = weights.setdefault(label, {})
                row[cell] = row.get(cell, 0.0) + coef * w
        # A row whose weights cancel (the base in "grpo's change minus sft's") plays no part.
        weights = {label: {c: w for c, w in row.items() if abs(w) > 1e-12}
                   for label, row in weights.items()}
        weights = {label: row for label, row in weights.items() if row}
        matrices, why = self._matrices(weights)
        if why:
            return Estimate(point, level=level, missing=why)
        return _combine(weights, matrices, level)

    def _from_means(self, terms) -> float | None:
        total = 0.0
        for label, measure, coef in terms:
            value = (self.means.get(label) or {}).get(measure)
            if value is None:
                return None
            total += coef * value
        return total

    def _matrices(self, weights) -> tuple[dict, str]:
        """label -> cell -> runs x questions array, or the reason there is none."""
        matrices: dict[str, dict[str, np.ndarray]] = {}
        digests: dict[str, set[str]] = {}
        for label, row in weights.items():
            runs = self.scores.get(label) or []
            if not runs or any(run is None for run in runs):
                return {}, NO_SCORES
            matrices[label] = {}
            for cell in row:
                found = [run.get(cell) for run in runs]
                if any(c is None or self.field not in c.values for c in found):
                    return {}, NO_SCORES
                digests.setdefault(cell, set()).update(c.digest for c in found)
                matrices[label][cell] = np.array([c.values[self.field] for c in found], float)
        if any(len(d) > 1 for d in digests.values()):
            return {}, OTHER_QUESTIONS
        return matrices, ""


@dataclass(frozen=True)
class Parts:
    """A paired sum's variance in the parts that shrink differently (docs/statistics.md), so that
    it can be scaled to other numbers of runs and questions (reftbench.reports.power).

    questions: cell -> questions. lean: cell -> per-question variance of the paired sum that
    is not run luck (what more questions shrink). luck: label -> cell -> weight^2 x the row's
    per-question run-to-run variance (what more questions and more runs shrink). shift: label
    -> how much the row's run means spread beyond that luck (what only more runs shrink; may be
    negative by chance). runs: label -> runs (rows with one run have no luck or shift parts).
    """

    questions: dict
    lean: dict
    luck: dict
    shift: dict
    runs: dict

    def variance(self, runs: int | None = None, questions: int | None = None) -> tuple[float, float]:
        """(variance, Welch-Satterthwaite degrees of freedom) at `runs` per row that has
        several (None: as measured) and `questions` per cell (None: as measured)."""
        size = {c: questions or q for c, q in self.questions.items()}
        parts = [(max(0.0, sum(v / size[c] for c, v in self.lean.items())),
                  float(sum(q - 1 for q in size.values())))]
        for label, shift in self.shift.items():
            n = runs or self.runs[label]
            luck = sum(v / size[c] for c, v in self.luck[label].items())
            parts.append((max(0.0, shift + luck) / n, float(n - 1)))
        variance = sum(v for v, _ in parts)
        spread = sum(v * v / df for v, df in parts if v > 0)
        return variance, (variance * variance / spread if spread > 0 else math.inf)


def detectable(parts: Parts, runs: int | None = None, questions: int | None = None,
               level: float = LEVEL, power: float = POWER) -> float:
    """The smallest true difference found (interval clear of zero) with probability `power`:
    (t_(1-a/2) + t_power) x standard error, at those counts."""
    variance, df = parts.variance(runs, questions)
    alpha = 1 - level
    return float(stats.t.ppf(1 - alpha / 2, df) + stats.t.ppf(power, df)) * math.sqrt(variance)


def _combine(weights, matrices, level: float) -> Estimate:
    """Value and variance parts of a paired sum."""
    cells = sorted({cell for row in weights.values() for cell in row})
    sizes = {cell: next(m[cell].shape[1] for m in matrices.values() if cell in m)
             for cell in cells}
    if min(sizes.values()) < 2:
        return Estimate(None, level=level, missing="fewer than 2 questions in a cell")
    effect = sum(w * matrices[label][cell].mean()
                 for label, row in weights.items() for cell, w in row.items())
    runs = {label: next(iter(m.values())).shape[0] for label, m in matrices.items()}
    luck = {label: {cell: w * w * residual_variance(matrices[label][cell])
                    for cell, w in row.items()}
            for label, row in weights.items() if runs[label] > 1}
    lean, shift = {}, {}
    for cell in cells:
        # Per question: the weighted sum of each row's score averaged over its runs.
        per_question = sum(w[cell] * matrices[label][cell].mean(axis=0)
                           for label, w in weights.items() if cell in w)
        lean[cell] = float(np.var(per_question, ddof=1)) - sum(
            luck[label].get(cell, 0.0) / runs[label] for label in luck)
    for label in luck:
        run_means = sum(w * matrices[label][cell].mean(axis=1)
                        for cell, w in weights[label].items())
        shift[label] = float(np.var(run_means, ddof=1)) - sum(
            v / sizes[cell] for cell, v in luck[label].items())
    parts = Parts(sizes, lean, luck, shift, runs)
    variance, df = parts.variance()
    return Estimate(float(effect), math.sqrt(variance), df, level, "", min(sizes.values()), runs,
                    parts)


def residual_variance(y: np.ndarray) -> float:
    """The runs x questions table's variance left after each run's and each question's mean
    (two-way analysis of variance): how much one run's answers differ from another's, question
    by question, beyond one run being better overall. 0 with a single run."""
    runs, questions = y.shape
    if runs < 2 or questions < 2:
        return 0.0
    resid = y - y.mean(axis=1, keepdims=True) - y.mean(axis=0, keepdims=True) + y.mean()
    return float((resid ** 2).sum() / ((runs - 1) * (questions - 1)))
