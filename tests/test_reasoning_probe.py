"""experiments/reasoning_probe.py: the written-out facts of a maths question match its scene."""

import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from experiments.reasoning_probe import CORNERS, reasoning  # noqa: E402
from tasks.math import generate  # noqa: E402


def test_shapes_are_listed_left_to_right_and_corner_totals_spell_the_sum():
    objects = [["square", "red", 60, 5, 80, 25], ["triangle", "blue", 5, 5, 25, 25],
               ["circle", "green", 30, 40, 50, 60]]
    assert reasoning("How many shapes are there?", objects) == "triangle, circle, square."
    total = reasoning("How many corners do all the shapes have in total? A circle has none.",
                      objects)
    assert total == "triangle, circle, square: 3 + 0 + 4."


def test_a_named_colour_gives_that_shape_only_and_other_scenes_give_none():
    objects = [["square", "red", 60, 5, 80, 25], ["pentagon", "blue", 5, 5, 25, 25]]
    assert reasoning("How many sides does the blue shape have?", objects) == "It is a pentagon."
    assert reasoning("How many shapes are there?", [["digit7", None, 1, 1, 9, 9]]) is None
    assert reasoning("How many shapes are there?", []) is None


def test_every_in_domain_scene_has_facts_that_give_its_answer():
    rng = random.Random(0)
    for index in range(200):
        _, scene = generate.make_scene("train", index, rng)
        objects = [[name, colour, *box] for name, colour, box in scene["drawn"]]
        written = reasoning(scene["question"], objects)
        value = int(scene["answer"])
        if scene["kind"] == "corners_total":
            assert sum(int(n) for n in written.split(":")[1].strip(" .").split(" + ")) == value
        elif scene["kind"] == "sides_of":
            assert CORNERS[written.split()[-1].rstrip(".")] == value
        elif scene["kind"] == "count_all":
            assert len(written.split(", ")) == value
