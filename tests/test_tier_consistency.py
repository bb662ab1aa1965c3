"""experiments/tier_consistency.py: what a stated fact implies for the judge and choice answers."""

import json
import sys
from pathlib import Path

import pytest
from conftest import N_TEST

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from experiments import tier_consistency  # noqa: E402
from reftbench.data.generated import load_split  # noqa: E402
from reftbench.samples import FAMILIES  # noqa: E402


def _rows(family):
    rows = load_split(family, "id", n=N_TEST)
    opens = {r["base_id"]: r for r in rows if r["tier"] == "open"}
    return [(r, opens[r["base_id"]]) for r in rows if r["tier"] != "open"]


def _fact(row):
    return row["think"].removeprefix("It is ").removesuffix(".")


@pytest.mark.parametrize("family", FAMILIES)
def test_the_gold_fact_implies_the_gold_answer(family):
    for row, open_row in _rows(family):
        assert tier_consistency.implied(row, open_row, _fact(row)) == row["answer"], row["id"]


def test_a_wrong_fact_implies_a_wrong_judgement():
    row, open_row = next((r, o) for r, o in _rows("math")
                         if r["tier"] == "judge" and r["answer"] == "yes")
    wrong = str(int(_fact(row)) + 7)
    assert tier_consistency.implied(row, open_row, wrong) == "no"


def test_analyse_counts_perception_agreement_and_the_ideal(tmp_path):
    (row, open_row), (other, _) = [p for p in _rows("detection") if p[0]["tier"] == "judge"][:2]
    flipped = {"yes": "no", "no": "yes"}
    lines = [  # right fact, right answer; right fact, the opposite answer
        {"id": row["id"], "tier": "judge", "strict": 1.0,
         "completion": f"<think>{row['think']}</think><answer>{row['answer']}</answer>"},
        {"id": other["id"], "tier": "judge", "strict": 0.0,
         "completion": f"<think>{other['think']}</think>"
                       f"<answer>{flipped[other['answer']]}</answer>"},
    ]
    (tmp_path / "samples.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines))
    counts = tier_consistency.analyse(tmp_path, N_TEST)[("detection", "id", "judge")]
    assert (counts["n"], counts["right"], counts["fact right"], counts["agrees"],
            counts["ideal"]) == (2, 1, 2, 1, 2)
