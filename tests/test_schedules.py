"""The schedules' rules on synthetic reward streams (no model): the plateau test ends a stage
where it should and hands its steps on; the bandit follows the larger mean |advantage| and keeps
its floor; draws are a function of the seed and the observations, so a restored state continues
exactly; skip_zero_spread passes over the prompts that gave no spread."""

from __future__ import annotations

import math

import pytest

from reftbench.training.schedule.draws import Draws, DrawSettings
from reftbench.training.schedule.policy import (group_gain, plateau_budget, plateau_reached,
                                                softmax_with_floor, td_update)

ARMS = ["judge/math", "choice/math", "open/math"]


def first_end(stream, **rule) -> int | None:
    """The number of batches after which the plateau rule first ends the stage."""
    return next((n for n in range(1, len(stream) + 1) if plateau_reached(stream[:n], **rule)),
                None)


def test_plateau_ends_when_the_average_stops_rising():
    # Rising by 0.1 a batch up to 0.7 at batch 8, flat after.
    stream = [min(0.1 * i, 0.7) for i in range(30)]
    rule = dict(window=3, min_gain=0.05, mastery=0.95, min_batches=4)
    # The 3-batch average is 0.6 after batch 8, 0.67 after batch 9, 0.7 from batch 10 on; its
    # gain over one window first falls below 0.05 after batch 12 (0.7 - 0.67).
    assert first_end(stream, **rule) == 12
    # A rising stream never plateaus; it ends on mastery instead, once the average reaches it.
    rising = [i / 20 for i in range(21)]  # the average gains 0.15 a window
    assert first_end(rising, **{**rule, "mastery": 0.59}) == 14  # (0.55 + 0.6 + 0.65) / 3
    assert first_end(rising, **{**rule, "mastery": 2.0}) is None
    # Never before its minimum, nor before two full windows.
    assert first_end([0.5] * 30, **rule) == 6
    assert first_end([0.5] * 30, **{**rule, "min_batches": 9}) == 9


def test_plateau_hands_the_saved_steps_on_and_keeps_the_total():
    lengths = [30, 30, 60]
    first = plateau_budget(lengths, [])
    assert first == 30
    second = plateau_budget(lengths, [12])  # the judge stage saved 18 steps
    assert second == 48
    third = plateau_budget(lengths, [12, 40])  # the choice stage ran 40 of its 48
    assert third == 68
    assert 12 + 40 + third == sum(lengths)


def test_group_gain_is_grpo_s_mean_absolute_advantage():
    spread, gain = group_gain([1.0, 0.0, 1.0, 0.0])
    std = math.sqrt(1 / 3)  # Bessel-corrected, as TRL's nanstd
    assert spread and gain == pytest.approx(0.5 / (std + 1e-4))
    assert group_gain([1.0, 0.0, 1.0, 0.0], "none") == (True, 0.5)
    assert group_gain([2.0, 2.0, 2.0, 2.0]) == (False, 0.0)
    assert group_gain([1.0, float("nan"), 1.0]) == (False, 0.0)  # unscorable rows do not count


def test_softmax_keeps_the_floor_and_sums_to_one():
    probs = softmax_with_floor({"a": 5.0, "b": 0.0, "c": 0.0}, temperature=0.1, floor=0.05)
    assert sum(probs.values()) == pytest.approx(1.0)
    assert min(probs.values()) >= 0.05 and probs["a"] == pytest.approx(0.9)
    # The prior's bonus tilts equal values towards the favoured arm.
    tilted = softmax_with_floor({"a": 0.0, "b": 0.0}, 1.0, 0.0, bonus={"b": math.log(3)})
    assert tilted["b"] == pytest.approx(0.75)
    assert td_update({"a": 0.0, "b": 1.0}, {"a": 1.0}, lr=0.25) == {"a": 0.25, "b": 1.0}


def rows_of(arms_per_row: int = 10) -> list[str]:
    return [arm for arm in ARMS for _ in range(arms_per_row)]


def feed(draws: Draws, chunks: int, gain_of, start: int = 0) -> list[list[int]]:
    """Draw and observe chunks start..chunks-1 as a trainer does (the observation of chunk k
    arrives after chunk k + 1 was drawn); every group's gain comes from `gain_of(arm, row)`."""
    out = []
    for k in range(start, chunks):
        rows = draws.draw(k)
        if k + 1 < chunks:
            draws.draw(k + 1)  # the dataloader's prefetch
        out.append(rows)
        groups = []
        for row in rows:
            arm = draws.row_arms[row]
            gain = gain_of(arm, row)
            groups.append([row, arm, int(gain > 0), gain, 0.5])
        draws.observe(k, groups)
    return out


def bandit(seed: int = 0, **settings) -> Draws:
    values = dict(mode="bandit", prompts=8, seed=seed, temperature=0.1, floor=0.05, lr=0.3)
    return Draws(rows_of(), DrawSettings(**{**values, **settings}))


def test_the_bandit_moves_towards_the_arm_with_the_larger_gain_and_keeps_its_floor():
    draws = bandit()
    feed(draws, 30, lambda arm, row: 0.8 if arm == "choice/math" else 0.1)
    first, last = draws.probs[0], draws.probs[-1]
    assert first == pytest.approx({a: 1 / 3 for a in ARMS})  # no observation yet: uniform
    assert last["choice/math"] > 0.85 and min(last.values()) >= 0.05 - 1e-12
    assert all(min(p.values()) >= 0.05 - 1e-12 for p in draws.probs)
    late = [draws.row_arms[r] for rows in draws.drawn[20:30] for r in rows]
    assert late.count("choice/math") > 0.7 * len(late)
    # When the gain moves to another arm (that arm mastered, the next one learnable), the
    # probability follows, through the draws the floor keeps on the other arms.
    feed(draws, 80, lambda arm, row: 0.8 if arm == "open/math" else 0.0, start=30)
    assert max(draws.probs[-1], key=draws.probs[-1].get) == "open/math"


def test_the_fixed_order_prior_favours_the_current_tier():
    draws = bandit(prior=2.0, temperature=1.0)
    draws.favoured = lambda k: {"judge/math"} if k < 5 else {"open/math"}
    feed(draws, 10, lambda arm, row: 0.0)
    assert max(draws.probs[0], key=draws.probs[0].get) == "judge/math"
    assert max(draws.probs[9], key=draws.probs[9].get) == "open/math"


def test_same_seed_same_draws_and_another_seed_others():
    gain = lambda arm, row: (row % 7) / 7  # noqa: E731
    a, b, c = (feed(bandit(seed), 12, gain) for seed in (0, 0, 1))
    assert a == b and a != c


@pytest.mark.parametrize("mode", ["bandit", "pool"])
def test_a_state_saved_and_restored_mid_run_gives_the_same_draws(mode):
    gain = lambda arm, row: ((row * 13) % 5) / 5  # noqa: E731
    settings = dict(mode=mode, prompts=4, seed=3, skip=True, keep=0.3)
    whole = Draws(rows_of(), DrawSettings(**settings))
    uninterrupted = feed(whole, 20, gain)

    first = Draws(rows_of(), DrawSettings(**settings))
    feed(first, 8, gain)
    first.draw(8)  # drawn (prefetched) but not yet trained when the checkpoint was written
    saved = first.state_dict()
    resumed = Draws(rows_of(), DrawSettings(**settings))
    resumed.load_state(saved)
    assert resumed.drawn == uninterrupted[:8]
    for k in range(8, 20):
        resumed.draw(k)
        if k + 1 < 20:
            resumed.draw(k + 1)
        rows = resumed.drawn[k]
        resumed.observe(k, [[r, resumed.row_arms[r], int(gain(None, r) > 0), gain(None, r), 0.5]
                            for r in rows])
    assert resumed.drawn[:20] == uninterrupted
    # A state that does not replay to its own draws (the data changed) is refused.
    saved["drawn"][0] = [0, 0, 0, 0]
    with pytest.raises(RuntimeError, match="replay"):
        Draws(rows_of(), DrawSettings(**settings)).load_state(saved)


def test_a_draw_never_runs_ahead_of_the_rewards_it_depends_on():
    draws = bandit()
    draws.draw(0), draws.draw(1)
    with pytest.raises(RuntimeError, match="rewards of chunk 0"):
        draws.draw(2)


def test_pool_mode_without_skip_is_trls_order_and_skip_passes_over_zero_spread_prompts():
    rows = ["open/math"] * 10
    order = lambda e: list(range(10)) if e % 2 == 0 else list(range(9, -1, -1))  # noqa: E731
    plain = Draws(rows, DrawSettings(mode="pool", prompts=3), pool_order=order)
    drawn = feed(plain, 6, lambda arm, row: 0.0)
    # Three chunks per pass, the pass's incomplete last chunk dropped, as RepeatSampler does.
    assert drawn == [[0, 1, 2], [3, 4, 5], [6, 7, 8], [9, 8, 7], [6, 5, 4], [3, 2, 1]]

    # With skip and keep=0, rows 0-4 (no spread in their groups) are passed over once known.
    skipping = Draws(rows, DrawSettings(mode="pool", prompts=3, skip=True, keep=0.0),
                     pool_order=order)
    drawn = feed(skipping, 12, lambda arm, row: 0.0 if row < 5 else 1.0)
    later = [r for chunk in drawn[4:] for r in chunk]
    assert not set(later) & {0, 1, 2, 3, 4} and skipping.passed_over > 0


def test_the_sampler_keeps_trls_repeat_structure_and_order():
    """Without skip, the schedule's sampler yields exactly what TRL's RepeatSampler would (each
    prompt G times, each chunk repeated, one seeded permutation per pass)."""
    from trl.trainer.utils import RepeatSampler

    from reftbench.training.schedule.trainer import ScheduleSampler, repeat_sampler_order

    n, prompts, generations, repeat = 10, 3, 2, 2
    trl = RepeatSampler(list(range(n)), mini_repeat_count=generations, batch_size=prompts,
                        repeat_count=repeat, seed=5)
    expected = list(trl) + list(trl)  # two passes over the data
    draws = Draws(["open/math"] * n, DrawSettings(mode="pool", prompts=prompts),
                  pool_order=repeat_sampler_order(n, seed=5))
    sampler = ScheduleSampler(draws, generations, repeat, chunks=6)
    assert len(sampler) == len(expected)
    got, per_chunk = [], prompts * generations * repeat
    for i, index in enumerate(sampler):
        got.append(index)
        if (i + 1) % per_chunk == 0:
            draws.observe(len(draws.observations), [])  # the trainer scored the chunk
    assert got == expected


def test_schedule_settings_that_cannot_work_together_are_refused():
    from reftbench.config import resolve
    from reftbench.errors import UserError
    from reftbench.registry import load_trainer
    from reftbench.training.config import validate

    plugin = load_trainer("curr-rl")

    def plan(*overrides):
        cfg = resolve(plugin.config_cls, plugin.presets, "tiny", overrides=list(overrides))
        validate(cfg)
        return plugin.plan(cfg)

    assert [s.name for s in plan("--schedule", "bandit")] == ["1-bandit"]
    assert [s.name for s in plan("--schedule", "plateau")] == ["1-judge", "2-choice", "3-open"]
    with pytest.raises(UserError, match="'schedule' must be one of fixed, plateau, bandit"):
        plan("--schedule", "anneal")
    with pytest.raises(UserError, match=r"bandit_floor 0.2 x 9 arms is above 1: use at most 0.111"):
        plan("--schedule", "bandit", "--bandit_floor", "0.2")
    with pytest.raises(UserError, match="save_steps .5. must be a multiple of num_iterations"):
        plan("--schedule", "plateau", "--num_iterations", "2", "--save_steps", "5")


def test_each_schedule_gets_its_own_leaderboard_row():
    from reftbench.config import resolve
    from reftbench.registry import load_trainer
    from reftbench.training.run import run_label

    def label(name, *overrides):
        plugin = load_trainer(name)
        return run_label(name, resolve(plugin.config_cls, plugin.presets, "tiny",
                                       overrides=list(overrides)))

    assert label("curr-rl") == "curr-rl" and label("grpo") == "grpo"
    assert label("curr-rl", "--schedule", "bandit") == "curr-rl:bandit"
    assert label("curr-reft", "--skip_zero_spread", "true") == "curr-reft:fixed+skip"


def test_a_stage_that_plateaus_stops_without_a_checkpoint_at_that_step():
    """A checkpoint at the stopping step would resume into one more step; without it, a kill
    before the stage record resumes from the step before and replays to the same end."""
    from transformers import TrainerControl

    from reftbench.training.schedule.trainer import _StopOnPlateau

    class Plateaued:
        def plateaued(self, step):
            return step == 4

    control = TrainerControl(should_save=True)
    _StopOnPlateau(Plateaued()).on_step_end(None, type("S", (), {"global_step": 3})(), control)
    assert control.should_save and not control.should_training_stop
    _StopOnPlateau(Plateaued()).on_step_end(None, type("S", (), {"global_step": 4})(), control)
    assert control.should_training_stop and not control.should_save
