"""experiments/run_answer_sizes.py counts the shapes a run's classification answers name."""

import json

from experiments.run_answer_sizes import sizes


def test_sizes_counts_answers_and_gold_of_one_split(tmp_path):
    rows = [
        {"family": "classification", "split": "id", "tier": "open",
         "answer": "circle, star, square", "gold": "circle, star"},
        {"family": "classification", "split": "id", "tier": "open", "answer": None,
         "gold": "a, b, c, d"},
        {"family": "classification", "split": "ood", "tier": "open", "answer": "circle",
         "gold": "circle"},  # another split
        {"family": "math", "split": "id", "tier": "open", "answer": "3", "gold": "3"},
    ]
    (tmp_path / "samples.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    answers, gold = sizes(tmp_path, "id")
    assert answers == {3: 1, 0: 1}
    assert gold == {2: 1, 3: 1}  # four labels count as "3 or more"
