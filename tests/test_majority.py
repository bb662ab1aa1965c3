"""experiments/majority.py, transfer.py and by_kind.py: majority answers, row labels, kinds."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from experiments.majority import answer_key, majority  # noqa: E402
from experiments.transfer import run_label  # noqa: E402


def done(answer: str) -> str:
    return f"<think>x</think><answer>{answer}</answer>"


def test_equal_answers_vote_together_whatever_their_order_spacing_or_case():
    assert answer_key("classification", done("Square, circle")) == "circle,square"
    assert answer_key("classification", done("circle,square,")) == "circle,square"
    spaced, tight = done("[1, 2, 3, 4]"), done("[1,2,3,4]")
    assert answer_key("detection", spaced) == answer_key("detection", tight)
    assert answer_key("math", done("3")) != answer_key("math", done("4"))
    assert answer_key("math", "no answer block") is None


def test_the_most_frequent_answer_wins_ties_go_to_the_first_and_none_without_answers():
    votes = [done("circle"), done("square, circle"), done("circle,square"), "junk"]
    assert majority("classification", votes) == done("square, circle")
    assert majority("math", [done("4"), done("3")]) == done("4")
    assert majority("math", ["junk", "<answer>"]) is None


def test_rows_are_labelled_by_their_run_folder():
    assert run_label("/tmp/p/grpo-17/stages/1-grpo/model") == "grpo-17"
    assert run_label("base") == "base"


def test_accuracy_by_kind_counts_each_kind_apart():
    from experiments.by_kind import by_kind

    def row(kind, gold):
        return {"family": "math", "kind": kind, "tier": "open", "answer": gold,
                "metric": "math_equiv"}

    rows = [row("sum", "3"), row("sum", "4"), row("read", "2")]
    got = by_kind(rows, [done("3"), done("5"), done("2")])
    assert got == {"sum": (50.0, 2), "read": (100.0, 1)}
