"""How many seeds or questions a comparison needs to tell a chosen difference: `reftbench compare
--plan EFFECT`, read from a finished comparison or a small pilot.

    table = plan(rows, labels, effect=0.02)   # one Plan per comparison and domain
    seeds_needed(parts, 0.02)                 # fewest runs per row (questions as measured)
    questions_needed(parts, 0.02)             # fewest questions per cell (runs as measured)

A comparison's variance splits into parts that shrink differently (reftbench.reports.paired.
Parts): the per-question spread of the paired difference (with more questions), each run's
per-question luck (with more questions and more runs) and each run's shift of its whole mean
(with more runs only: past a point, more questions cannot help). Scaling them to other counts
gives the smallest difference detectable there (80% power, 5% two-sided); a plan is the fewest
counts that bring it down to EFFECT. A row with one run stays at one (the base is one fixed
model); from a pilot with one run per row the seed parts are not measured and count as none.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

from reftbench.reports.paired import Estimate, Parts, Rows, detectable

# The most runs per row and questions per cell a plan looks at.
MAX_SEEDS = 50
MAX_QUESTIONS = 1_000_000


@dataclass
class Plan:
    """One comparison on one column, now and what it needs."""

    name: str
    column: str
    # Smallest detectable difference now; runs per row and questions per cell it was measured at.
    now: float
    runs: int
    questions: int
    # Fewest runs per row (None: not within MAX_SEEDS) and questions per cell (None: more
    # questions alone cannot get there) for EFFECT.
    seeds: int | None
    per_cell: int | None
    seeds_measured: bool


def seeds_needed(parts: Parts, effect: float) -> int | None:
    """Fewest runs per trained row (2 or more) whose detectable difference is <= effect."""
    for seeds in range(2, MAX_SEEDS + 1):
        if detectable(parts, runs=seeds) <= effect:
            return seeds
    return None


def questions_needed(parts: Parts, effect: float) -> int | None:
    """Fewest questions per cell (runs as measured) whose detectable difference is <= effect."""
    if detectable(parts, questions=MAX_QUESTIONS) > effect:
        return None
    low, high = 2, 2
    while detectable(parts, questions=high) > effect:
        low, high = high, high * 2
    while high - low > 1:  # smallest `high` with detectable <= effect
        mid = (low + high) // 2
        low, high = (low, mid) if detectable(parts, questions=mid) <= effect else (mid, high)
    return high


def plan(rows: Rows, labels: list[str], against: str, effect: float,
         columns=("avg/id", "avg/ood")) -> list[Plan]:
    """For every row against `against` and every two rows, on each column."""
    pairs = [(label, against) for label in labels] + list(itertools.combinations(labels, 2))
    out = []
    for (a, b), column in itertools.product(pairs, columns):
        est: Estimate = rows.estimate([(a, column, 1), (b, column, -1)])
        if est.parts is None:
            continue
        trained = [n for n in est.runs.values() if n > 1]
        out.append(Plan(f"{a} - {b}", column, est.mde(), max(est.runs.values()), est.questions,
                        seeds_needed(est.parts, effect), questions_needed(est.parts, effect),
                        bool(trained)))
    return out
