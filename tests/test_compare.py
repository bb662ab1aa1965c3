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
