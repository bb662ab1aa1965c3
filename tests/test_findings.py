"""The claims and goals are decided by their intervals: holds, does not hold or undecided, on
crafted per-question scores where the truth is known; without scores, undecided, never a crash."""

import re

import pytest
from crafted import draw, write

from reftbench.reports.findings import claims
from reftbench.reports.leaderboard import collect, paired_rows

# True changes from the base (fractions) under which every claim and goal holds.
PAPER_LIKE = {"sft": {"id": .15, "ood": 0.0, "general": -.01},
              "grpo": {"id": .05, "ood": .06},
              "curr-rl": {"id": .08, "ood": .10},
              "curr-reft": {"id": .08, "ood": .10}}


def lines_for(tmp_path, effects, with_scores=True, **kw):
    write(tmp_path, draw(effects, **kw), with_scores=with_scores)
    return claims(paired_rows(collect(tmp_path)))


def verdict_of(line):
    return re.search(r": \*\*(.+?)\*\*", line).group(1)


def test_paper_like_differences_make_every_claim_hold_and_every_goal_met(tmp_path):
    lines = lines_for(tmp_path, PAPER_LIKE)
    assert len(lines) == 6
    assert [verdict_of(x) for x in lines] == ["holds"] * 4 + ["met"] * 2
    # Each states its effect with a 95% interval and what the comparison could detect.
    assert re.search(r"in-domain change minus out-of-domain change: \+1[45]\.\d points, "
                     r"95% CI \+\d+\.\d to \+\d+\.\d, smallest detectable \d\.\d;", lines[0])
    assert "at 98.3%" in lines[4] and "98.3% CI" in lines[4]


def test_differences_the_other_way_do_not_hold(tmp_path):
    effects = {"sft": {"id": 0.0, "ood": .10},             # SFT gains out of domain only
               "grpo": {"id": 0.0, "ood": 0.0},           # less than SFT out of domain
               "curr-rl": {"id": 0.0, "ood": -.05},       # below plain RL: no gain to keep
               "curr-reft": {"id": 0.0, "ood": -.05, "general": -.10}}
    lines = lines_for(tmp_path, effects)
    assert [verdict_of(x) for x in lines] == ["does not hold"] * 4 + ["not met"] * 2


def test_no_true_difference_leaves_the_claims_undecided(tmp_path):
    lines = lines_for(tmp_path, {})
    assert [verdict_of(x) for x in lines[:4]] == ["undecided"] * 4
    # Nothing gained is clearly short of the goals' 3 and 5 points.
    assert [verdict_of(x) for x in lines[4:]] == ["not met"] * 2


def test_a_small_difference_within_the_noise_is_undecided_not_held(tmp_path):
    # Today's committed comparison: grpo +0.0 and sft -0.7 out of domain.
    effects = dict(PAPER_LIKE, grpo={"ood": 0.0}, sft={"id": .04, "ood": -.007})
    line = lines_for(tmp_path, effects)[1]
    assert line.startswith("2. RL improves out-of-domain more than SFT: **undecided** (")


def test_runs_without_per_question_scores_are_undecided_and_say_why(tmp_path):
    lines = lines_for(tmp_path, PAPER_LIKE, with_scores=False)
    assert len(lines) == 6
    for line in lines:
        assert "**undecided** (no per-question scores)" in line and "CI" not in line
    assert "in-domain +15." in lines[0]          # the means are still shown


def test_missing_rows_give_no_findings(tmp_path):
    write(tmp_path, draw(PAPER_LIKE, labels=("base", "sft", "curr-rl", "curr-reft")))
    assert claims(paired_rows(collect(tmp_path))) == []


def test_a_real_data_comparison_s_rows_are_decided_under_their_folder_s_name(tmp_path):
    # `compare --data mydata` labels every row "<method>@mydata"; its claims are decided on them.
    world = {f"{label}@mydata": runs for label, runs in draw(PAPER_LIKE).items()}
    write(tmp_path, world)
    lines = claims(paired_rows(collect(tmp_path)))
    assert [verdict_of(x) for x in lines] == ["holds"] * 4 + ["met"] * 2
    # Two folders with every method each: which one the claims speak of is not guessed.
    other = {f"{label}@other": runs for label, runs in draw({}, seed=1).items()}
    write(tmp_path, other)
    assert claims(paired_rows(collect(tmp_path))) == []


def test_without_a_general_column_claim_four_is_undecided(tmp_path):
    line = lines_for(tmp_path, PAPER_LIKE, general=False)[3]
    assert line.endswith("**undecided** (no general column).")


@pytest.mark.parametrize("seed", [0, 1])
def test_a_goal_needs_its_whole_interval_above_the_threshold(tmp_path, seed):
    # curr-reft 5.5 points above SFT out of domain: above 5 but not clearly, so undecided.
    effects = dict(PAPER_LIKE, sft={"id": .15, "ood": 0.045})
    line = lines_for(tmp_path, effects, seed=seed)[5]
    assert verdict_of(line) == "undecided"
