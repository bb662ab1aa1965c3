"""experiments/answer_shapes.py: how many shapes an answer names."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from experiments.answer_shapes import shapes_named  # noqa: E402


def test_counts_listed_items_and_nothing_for_no_answer():
    assert shapes_named("circle, hexagon, star") == 3
    assert shapes_named("star") == 1
    assert shapes_named("circle, ,star,") == 2
    assert shapes_named("") == 0 and shapes_named(None) == 0
