"""`reftbench compare`: refuses to resume work another base model produced; hands each trainer
only the overrides its config has."""

import pytest

from reftbench.compare import FINGERPRINT, _same_base
from reftbench.errors import UserError
from reftbench.provenance import model_fingerprint


def _base(folder, weights: bytes):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.json").write_text("{}")
    (folder / "model.safetensors").write_bytes(weights)
    return str(folder)


def test_fresh_folders_record_the_base(tmp_path):
    base = _base(tmp_path / "base", b"v1")
    fingerprint = _same_base(base, tmp_path / "out", tmp_path / "results/runs/compare-base")
    assert fingerprint == model_fingerprint(base)
    assert (tmp_path / "out" / FINGERPRINT).read_text().strip() == fingerprint


def test_runs_from_another_base_are_refused(tmp_path):
    out, base_run = tmp_path / "out", tmp_path / "results/runs/compare-base"
    base = _base(tmp_path / "base", b"v1")
    _same_base(base, out, base_run)
    (out / "timings.json").write_text('{"sft-seed0": 100}')
    _same_base(base, out, base_run)  # same base: resumes
    _base(tmp_path / "base", b"v2")  # the base is rebuilt in place
    with pytest.raises(UserError, match="another base model.*--output"):
        _same_base(base, out, base_run)
    # A base evaluation with no recorded fingerprint (or another one) is not reused either.
    base_run.mkdir(parents=True)
    (base_run / "results.json").write_text("{}")
    with pytest.raises(UserError, match="not recorded.*--results-dir"):
        _same_base(base, tmp_path / "new-out", base_run)


@pytest.mark.parametrize("preset", ["tiny", "qwen2.5-vl-3b"])
def test_every_method_and_the_base_are_scored_with_the_same_room(preset):
    from reftbench.compare import METHODS, eval_length
    from reftbench.config import resolve
    from reftbench.registry import load_trainer

    lengths = {name: resolve(load_trainer(name).config_cls, load_trainer(name).presets,
                             preset).eval_max_new_tokens for name in METHODS}
    assert set(lengths.values()) == {eval_length(preset)}, lengths


def test_the_base_eval_length_follows_an_override_and_refuses_a_bad_one():
    from reftbench.compare import eval_length

    assert eval_length("tiny", ("--sft_lr", "1e-5", "--eval_max_new_tokens", "12")) == 12
    for bad in (("--eval_max_new_tokens", "0"), ("--eval_max_new_tokens", "many")):
        with pytest.raises(UserError, match="eval_max_new_tokens"):
            eval_length("tiny", bad)
    with pytest.raises(UserError, match="preset"):
        eval_length("huge")


def test_overrides_go_only_to_trainers_that_have_them():
    from reftbench.compare import trainer_overrides

    common = ["--eval_limit", "5", "--accuracy_reward", "strict", "--grpo_lr=3e-5"]
    trainers = ("sft", "grpo")
    assert trainer_overrides("grpo", trainers, common) == [
        "--eval_limit", "5", "--accuracy_reward", "strict", "--grpo_lr", "3e-5"]
    assert trainer_overrides("sft", trainers, common) == ["--eval_limit", "5"]
    with pytest.raises(UserError, match="--acuracy_reward is not a setting"):
        trainer_overrides("sft", trainers, ["--acuracy_reward", "strict"])
    # a GRPO-only key with no GRPO trainer compared is a mistake, not a silent no-op
    with pytest.raises(UserError, match="--accuracy_reward"):
        trainer_overrides("sft", ("sft",), ["--accuracy_reward", "strict"])


def test_a_trainer_named_with_a_schedule_runs_under_it():
    from reftbench.compare import run_name, split_variant, trainer_overrides

    assert split_variant("curr-rl") == ("curr-rl", [])
    assert split_variant("curr-rl:bandit") == ("curr-rl", ["--schedule", "bandit"])
    assert split_variant("curr-reft:fixed+skip") == (
        "curr-reft", ["--schedule", "fixed", "--skip_zero_spread", "true"])
    assert run_name("curr-rl:fixed+skip") == "curr-rl-fixed-skip"
    with pytest.raises(UserError, match="did you mean bandit"):
        split_variant("curr-rl:bandid")
    with pytest.raises(UserError, match="grpo has no schedule"):
        split_variant("grpo:bandit")
    with pytest.raises(UserError, match="only 'skip'"):
        split_variant("curr-rl:bandit+fast")
    # Overrides are checked against the trainer behind a variant.
    assert trainer_overrides("curr-rl", ("curr-rl", "curr-rl:bandit"), ["--bandit_lr", "0.5"]) \
        == ["--bandit_lr", "0.5"]


def fake_run(folder, schedule: str, chunks: list[tuple[str, float]], steps_per_chunk=1):
    """A finished run folder with one GRPO stage whose chunks scored `chunks` (tier, reward)."""
    import json

    stage = folder / "stages" / "1-x"
    stage.mkdir(parents=True)
    rows = [{"step": i * steps_per_chunk + 1, "groups": 2, "signal": 1, "accuracy": acc,
             "tier_accuracy": {tier: acc}, "arms": {f"{tier}/math": 2}}
            for i, (tier, acc) in enumerate(chunks)]
    budget = {"steps": len(chunks) * steps_per_chunk, "generation_batches": len(chunks),
              "completions": 4 * len(chunks), "groups": 2 * len(chunks),
              "groups_with_signal": len(chunks), "prompts_passed_over": 0}
    (stage / "schedule.json").write_text(json.dumps({"budget": budget, "chunks": rows}))
    (folder / "budget.json").write_text(json.dumps({"schedule": schedule, "total": {
        **budget, "signal_share": 0.5}}))


def test_schedules_table_counts_steps_to_the_fixed_schedule_s_final_reward(tmp_path):
    from reftbench.reports.schedules import write_schedules

    # fixed: 20 judge chunks, then 20 open chunks ending at 0.5 (its final 10-chunk average).
    fake_run(tmp_path / "fixed", "fixed", [("judge", 0.9)] * 20 + [("open", 0.5)] * 20)
    # bandit: open-tier reward at 0.5 from its 11th open chunk on (the average reaches 0.5 at
    # the 20th open chunk), judge chunks in between do not count for the open tier.
    fake_run(tmp_path / "bandit", "bandit",
             [("open", 0.0)] * 10 + [("judge", 0.9), ("open", 0.5)] * 10 + [("open", 0.6)] * 20)
    path = write_schedules({"curr-rl": {0: tmp_path / "fixed"},
                            "curr-rl:bandit": {0: tmp_path / "bandit"}}, tmp_path / "results")
    lines = [line for line in path.read_text().splitlines() if line.startswith("| curr-rl")]
    rows = {cells[0]: cells for cells in
            ([c.strip() for c in line.strip("| ").split(" | ")] for line in lines)}
    # fixed is at its own final open-tier average from its first open chunk (step 21) on.
    assert rows["curr-rl"][6] == "21 (1/1)"
    assert rows["curr-rl:bandit"][2] == "50" and rows["curr-rl:bandit"][6] == "30 (1/1)"
    assert rows["curr-rl:bandit"][7] == "120"  # 4 completions a chunk, 30 chunks
