"""The schedules end to end on the micro model: the fixed schedule trains exactly as TRL's own
GRPOTrainer did; each schedule runs, writes its arm shares and budget, and a killed run resumes
to draw what an uninterrupted one draws."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from reftbench.training.run import train

# Small enough for seconds per step on two cores.
FAST = {"model": "random-micro", "n_train": "12", "n_test": "8", "prompts_per_step": "2",
        "max_completion_length": "8", "logging_steps": "1", "save_steps": "1",
        "evaluate": "false", "stages": "judge,open", "stage_generations": "2,2"}


def length_reward(completions, **kwargs):
    """A reward with spread even for a random model (GRPO learns nothing from equal rewards)."""
    return [float(len(str(c))) for c in completions]


@pytest.fixture
def spread(monkeypatch):
    import reftbench.training.trl_rewards

    monkeypatch.setattr(reftbench.training.trl_rewards, "make_reward_funcs",
                        lambda *args: [length_reward])


def records(run: Path) -> dict[str, dict]:
    return {p.parent.name: json.loads(p.read_text())
            for p in sorted(run.glob("stages/*/schedule.json"))}


def weights(model_dir) -> dict:
    return load_file(str(Path(model_dir) / "model.safetensors"))


def test_the_fixed_schedule_trains_as_trls_own_trainer(tmp_path, spread, monkeypatch):
    """Same seed, same metrics and weights as before schedules existed (TRL's GRPOTrainer)."""
    from trl import GRPOTrainer

    from reftbench.training.schedule import trainer as scheduled

    overrides = {**FAST, "stages": "open", "stage_steps": "3", "stage_generations": "2"}
    ours = train("curr-rl", overrides=overrides, output=tmp_path / "ours")

    class Plain(GRPOTrainer):
        def __init__(self, *args, schedule=None, **kwargs):
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(scheduled, "ScheduledGRPOTrainer", Plain)
    theirs = train("curr-rl", overrides=overrides, output=tmp_path / "theirs")
    a, b = weights(ours["model"]), weights(theirs["model"])
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)

    def logged(run):
        rows = [json.loads(line) for line in (run / "stages/1-open/metrics.jsonl").open()]
        return [{k: v for k, v in r.items() if "runtime" not in k and "per_second" not in k
                 and "time" not in k} for r in rows]
    assert logged(tmp_path / "ours") == logged(tmp_path / "theirs")
    # The fixed schedule only counted: TRL's sampler drew, the record holds what it drew.
    record = records(tmp_path / "ours")["1-open"]
    assert record["mode"] == "observe" and record["budget"]["steps"] == 3
    assert [c["rows"] for c in record["chunks"]] == [[-1, -1]] * 3
    assert record["budget"]["completions"] == 3 * 2 * 2


def test_skip_zero_spread_passes_over_prompts_that_taught_nothing(tmp_path):
    # The random model earns nothing (every group without spread), and two maths prompts are
    # all there is: once their first groups are scored, they are passed over before reuse.
    run = tmp_path / "run"
    train("curr-rl", overrides={**FAST, "families": "math", "n_train": "2", "stages": "open",
                                "stage_steps": "6", "stage_generations": "2",
                                "skip_zero_spread": "true", "skip_keep": "0.2"}, output=run)
    record = records(run)["1-open"]
    budget = json.loads((run / "budget.json").read_text())
    assert record["mode"] == "pool" and budget["skip_zero_spread"] is True
    assert budget["total"]["groups_with_signal"] == 0 and budget["total"]["signal_share"] == 0
    assert budget["total"]["prompts_passed_over"] > 0
    assert budget["total"]["completions"] == 6 * 2 * 2  # passing over costs no generation


def kill_at(monkeypatch, stage: str, step: int):
    """Make the run stop dead right after `stage` saved its step-`step` checkpoint."""
    from reftbench.training import callbacks

    class Kill(Exception):
        pass

    def kill(self, args, state, control, **kw):
        if self.stage == stage and state.global_step == step:
            raise Kill

    monkeypatch.setattr(callbacks.MetricsLog, "on_save", kill, raising=False)
    return Kill


@pytest.mark.parametrize("schedule", ["plateau", "bandit"])
def test_each_schedule_runs_records_and_resumes_as_if_never_killed(tmp_path, spread, monkeypatch,
                                                                   schedule):
    extra = ({"plateau_min_steps": "1", "plateau_window": "1", "plateau_min_gain": "1000"}
             if schedule == "plateau" else {"skip_zero_spread": "true"})
    overrides = {**FAST, "stage_steps": "3,3", "schedule": schedule, **extra}
    whole = train("curr-rl", overrides=overrides, output=tmp_path / "whole")

    kill = kill_at(monkeypatch, "1-judge" if schedule == "plateau" else "1-bandit", 1)
    with pytest.raises(kill):
        train("curr-rl", overrides=overrides, output=tmp_path / "killed")
    monkeypatch.setattr("reftbench.training.callbacks.MetricsLog.on_save",
                        lambda *a, **k: None, raising=False)
    resumed = train("curr-rl", overrides=overrides, output=tmp_path / "killed", resume=True)

    want, got = records(tmp_path / "whole"), records(tmp_path / "killed")
    assert list(got) == list(want)
    for stage in want:  # the same prompts, arms and rewards, chunk by chunk
        assert got[stage]["chunks"] == want[stage]["chunks"]
        assert got[stage]["budget"] == want[stage]["budget"]
    a, b = weights(whole["model"]), weights(resumed["model"])
    assert all(torch.equal(a[k], b[k]) for k in a)

    budget = json.loads((tmp_path / "whole" / "budget.json").read_text())
    assert budget["schedule"] == schedule and budget["total"]["steps"] == 6
    assert budget["total"]["completions"] == 6 * 2 * 2
    assert (tmp_path / "whole" / "reward_curve.png").exists()
    if schedule == "plateau":
        # The judge stage had stopped rising (any gain is below 1000) after its minimum of two
        # one-batch windows: it ended at step 2 and the open stage ran its 3 steps plus that 1.
        assert [want[s]["budget"]["steps"] for s in want] == [2, 4]
        assert all(set(c["arms"]) <= {"judge/detection", "judge/classification", "judge/math"}
                   for c in want["1-judge"]["chunks"])
    else:
        record = want["1-bandit"]
        arms = {a for c in record["chunks"] for a in c["arms"]}
        assert record["arms"] == [f"{t}/{f}" for t in ("judge", "open")
                                  for f in ("detection", "classification", "math")]
        assert arms <= set(record["arms"]) and all(
            min(c["probs"].values()) >= 0.02 - 1e-9 for c in record["chunks"])
        assert all(len(c["rows"]) == 2 and min(c["rows"]) >= 0 for c in record["chunks"])
