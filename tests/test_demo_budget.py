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


def test_a_demo_under_another_budget_starts_in_its_own_folder(tmp_path, monkeypatch):
    from rich.console import Console

    from reftbench import demo
    from reftbench.data import generated as data
    from reftbench.reports import terminal as report
    from reftbench.training import run

    calls = []
    monkeypatch.setattr(data, "ensure_split", lambda family, split: None)
    monkeypatch.setattr(report, "run_eval", lambda cfg, results, resume, console:
                        calls.append(("eval", results, cfg.limit)))
    monkeypatch.setattr(report, "show_leaderboard", lambda results, console: None)
    monkeypatch.setattr(run, "train", lambda trainer, overrides, output, resume, results_dir,
                        console: calls.append(("train", output, results_dir, overrides)))
    demo.run_demo(Console(quiet=True), tmp_path / "results", tmp_path / "runs")
    monkeypatch.setattr(demo, "DEMO_STEP_DIVISOR", 4)
    demo.run_demo(Console(quiet=True), tmp_path / "results", tmp_path / "runs")
    (_, first_eval, limit), (_, first_out, first_res, first_args), \
        (_, second_eval, _), (_, second_out, _, second_args) = calls
    assert limit == demo.DEMO_LIMIT and first_res == first_eval
    assert first_out.parent.name.endswith("1of3") and second_out.parent.name.endswith("1of4")
    assert first_out.parent.parent == second_out.parent.parent  # the same base's folder
    assert first_eval != second_eval
    assert "12,12,25" in first_args and "9,9,18" in second_args
