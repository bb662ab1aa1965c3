"""The claim checker reads the right numbers and says 'holds' only when the numbers say so."""

from reftbench.reports.findings import claims


def row(idm, ood, general=None, std=0.0, n=3):
    cell = lambda m: (m, std, n)  # noqa: E731
    return {"avg/id": cell(idm), "avg/ood": cell(ood),
            "general": cell(general) if general is not None else None}


def paper_like():
    return {"base": row(.30, .20, .50), "sft": row(.50, .22, .40), "grpo": row(.38, .30, .48),
            "curr-rl": row(.42, .33, .47), "curr-reft": row(.43, .34, .50)}


def test_paper_like_numbers_make_every_claim_hold():
    lines = claims(paper_like())
    assert len(lines) == 6
    assert all("**holds**" in line for line in lines[:4])
    assert "**met**" in lines[4] and "curr-reft +13.0" in lines[4]
    assert "**met**" in lines[5] and "+12.0" in lines[5]
    assert "in-domain +20.0, out-of-domain +2.0" in lines[0]


def test_each_claim_can_fail():
    v = paper_like()
    v["sft"] = row(.31, .40, .40)           # SFT gains more out of domain than in domain
    v["curr-rl"] = row(.37, .29, .47)        # below plain RL
    v["curr-reft"] = row(.30, .20, .30)      # loses general ability and the RL gain
    lines = claims(v)
    assert "**does not hold**" in lines[0]
    assert "**does not hold**" in lines[1]   # grpo +10 < sft +20 out of domain
    assert "**does not hold**" in lines[2]
    assert "**does not hold**" in lines[3]
    assert "**not met**" in lines[5]


def test_keeping_the_rl_gains_needs_rl_gains():
    v = paper_like()
    # Curriculum RL lost out-of-domain accuracy and rejection sampling lost the same: nothing kept.
    v["curr-rl"] = row(.42, .18, .47)
    v["curr-reft"] = row(.43, .18, .50)
    line = claims(v)[3]
    assert "**does not hold**" in line and "no out-of-domain gain to keep" in line


def test_gap_must_exceed_the_spread_of_seeds():
    v = paper_like()
    v["curr-reft"] = row(.43, .30, .50, std=.09)
    assert "**not met**" in claims(v)[5]


def test_missing_rows_give_no_findings():
    v = paper_like()
    del v["grpo"]
    assert claims(v) == []


def test_rl_learning_needs_three_points_and_two_standard_deviations():
    v = paper_like()
    for label in ("grpo", "curr-rl", "curr-reft"):
        v[label] = row(.32, .20, .50, std=0.0)      # +2 points: too small
    assert "**not met**" in claims(v)[4]
    v["curr-rl"] = row(.36, .20, .50, std=0.04)      # +6 points but std 4: not > 2 std
    assert "**not met**" in claims(v)[4]
    v["curr-rl"] = row(.36, .20, .50, std=0.02)      # +6 points, std 2
    assert "**met**" in claims(v)[4] and "curr-rl +6.0 (std 2.0)" in claims(v)[4]
