"""Paired differences with intervals: right on crafted data where the truth is known, equal to
the textbook intervals in the cases where those apply, and undecided when they cannot be built."""

import numpy as np
import pytest
from crafted import draw, write
from scipy import stats

from reftbench.evaluation.scores import Cell
from reftbench.reports.leaderboard import collect, paired_rows
from reftbench.reports.paired import FAILS, HOLDS, NO_SCORES, OTHER_QUESTIONS, UNDECIDED, Rows, \
    all_of, any_of, detectable, verdict


def rows_from(world) -> Rows:
    scores = {label: [{key: Cell([f"q{i}" for i in range(len(y))], "d", {"strict": list(y)})
                       for key, y in run.items()} for run in runs]
              for label, runs in world.items()}
    return Rows(scores, {label: {} for label in world})


def sft_minus_base(rows, measure="avg/id"):
    return rows.estimate([("sft", measure, 1), ("base", measure, -1)])


def test_a_five_point_paired_effect_on_500_questions_and_3_seeds_holds():
    est = sft_minus_base(rows_from(draw({"sft": {"id": 0.05}}, labels=("base", "sft"))))
    assert est.effect == pytest.approx(0.05, abs=0.01)
    assert est.low > 0 and verdict(est) == HOLDS
    assert est.runs == {"sft": 3, "base": 1} and est.questions == 500


def test_no_effect_is_undecided_and_the_wrong_sign_does_not_hold():
    zero = sft_minus_base(rows_from(draw({}, labels=("base", "sft"))))
    assert zero.low < 0 < zero.high and verdict(zero) == UNDECIDED
    worse = sft_minus_base(rows_from(draw({"sft": {"id": -0.05}}, labels=("base", "sft"))))
    assert worse.high < 0 and verdict(worse) == FAILS


def test_thresholds_and_combined_claims():
    est = sft_minus_base(rows_from(draw({"sft": {"id": 0.05}}, labels=("base", "sft"))))
    assert verdict(est, above=est.high + 0.01) == FAILS   # "at least that much": clearly not
    assert verdict(est, above=est.effect) == UNDECIDED
    assert all_of([HOLDS, HOLDS]) == HOLDS and all_of([HOLDS, UNDECIDED]) == UNDECIDED
    assert all_of([UNDECIDED, FAILS]) == FAILS
    assert any_of([FAILS, HOLDS]) == HOLDS and any_of([FAILS, UNDECIDED]) == UNDECIDED
    assert any_of([FAILS, FAILS]) == FAILS


def test_two_single_runs_give_the_paired_t_interval():
    rng = np.random.default_rng(1)
    a, b = (rng.random(300) < 0.5).astype(float), (rng.random(300) < 0.4).astype(float)
    rows = rows_from({"sft": [{"math/id/open": a}], "base": [{"math/id/open": b}]})
    est = sft_minus_base(rows, "math/id")
    ci = stats.ttest_rel(a, b).confidence_interval()
    assert (est.low, est.high) == pytest.approx((ci.low, ci.high))


def test_runs_that_differ_only_as_a_whole_give_welchs_interval_over_run_means():
    # Every question scores the run's mean: no question noise, only the seeds' spread.
    a_means, b_means = [0.50, 0.56, 0.47], [0.40, 0.43, 0.38, 0.45]
    world = {"sft": [{"math/id/open": np.full(50, m)} for m in a_means],
             "base": [{"math/id/open": np.full(50, m)} for m in b_means]}
    est = sft_minus_base(rows_from(world), "math/id")
    ci = stats.ttest_ind(a_means, b_means, equal_var=False).confidence_interval()
    assert (est.low, est.high) == pytest.approx((ci.low, ci.high))


def test_the_same_scores_give_the_same_interval():
    world = draw({"grpo": {"ood": 0.02}}, labels=("base", "grpo"), seed=3)
    one, two = (rows_from(world).estimate([("grpo", "avg/ood", 1), ("base", "avg/ood", -1)])
                for _ in range(2))
    assert (one.low, one.high, one.df) == (two.low, two.high, two.df)


def test_more_questions_and_more_seeds_detect_smaller_differences():
    est = sft_minus_base(rows_from(draw({"sft": {"id": 0.02}}, labels=("base", "sft"))))
    now = est.mde()
    assert now == pytest.approx(detectable(est.parts))
    assert detectable(est.parts, questions=2000) < now < detectable(est.parts, questions=100)
    assert detectable(est.parts, runs=10) < now < detectable(est.parts, runs=2)
    # Question noise alone (single runs): four times the questions halve it, near enough.
    single = sft_minus_base(rows_from(draw({"sft": {"id": 0.02}}, labels=("base", "sft"),
                                           seeds=1)))
    assert detectable(single.parts, questions=2000) == pytest.approx(
        detectable(single.parts) / 2, rel=0.02)


def test_runs_without_scores_or_on_other_questions_are_undecided(tmp_path):
    world = draw({"sft": {"id": 0.05}}, labels=("base", "sft"))
    write(tmp_path, world, with_scores=False)
    est = sft_minus_base(paired_rows(collect(tmp_path)))
    assert est.missing == NO_SCORES and verdict(est) == UNDECIDED
    assert est.effect == pytest.approx(0.05, abs=0.01)   # from the table's means
    rows = rows_from(world)
    rows.scores["base"][0]["math/id/open"].digest = "other data"
    assert sft_minus_base(rows).missing == OTHER_QUESTIONS


@pytest.mark.slow
def test_interval_covers_the_truth_about_95_percent_of_the_time():
    """What experiments/verdict_coverage.py measures at length, on this file's crafted data (1000
    draws put the coverage within about 1.5 points of its true value)."""
    hits = []
    for seed in range(1000):
        world = draw({"sft": {"id": 0.03}}, labels=("base", "sft"), seed=seed, questions=200,
                     general=False)
        est = sft_minus_base(rows_from(world))
        # The truth: thresholds differ by 3 points and the luck is symmetric, so 0.03 exactly.
        hits.append(est.low <= 0.03 <= est.high)
    assert 0.93 <= np.mean(hits) <= 0.97
