"""The demo's training budget: a fraction of the `tiny` preset's steps, for every trainer."""

import dataclasses

import pytest

from reftbench.config import parse_overrides, resolve
from reftbench.demo import DEMO_STEP_DIVISOR, STEP_FIELDS, demo_budget
from reftbench.registry import load_trainer


@pytest.mark.parametrize("trainer", ["sft", "grpo", "curr-rl", "curr-reft"])
def test_the_demo_budget_divides_each_step_count_of_the_preset(trainer):
    plugin = load_trainer(trainer)
    full = resolve(plugin.config_cls, plugin.presets, "tiny")
    demo = resolve(plugin.config_cls, plugin.presets, "tiny",
                   overrides=parse_overrides(demo_budget(trainer)))
    name = next(name for name in STEP_FIELDS if hasattr(full, name))
    before, after = getattr(full, name), getattr(demo, name)
    pairs = list(zip(before, after)) if isinstance(before, tuple) else [(before, after)]
    assert pairs and all(new == max(1, old // DEMO_STEP_DIVISOR) < old for old, new in pairs)
    # Nothing else moves: the method is the preset's, only shorter.
    rest = [f.name for f in dataclasses.fields(full) if f.name != name]
    assert [getattr(demo, n) for n in rest] == [getattr(full, n) for n in rest]


def test_the_curr_reft_demo_keeps_the_curriculum_shape():
    stages = parse_overrides(demo_budget("curr-reft"))["stage_steps"]
    assert [int(n) for n in str(stages).split(",")] == [12, 12, 25]
