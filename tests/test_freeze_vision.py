"""`--freeze_vision`: a trainer keeps the vision encoder fixed and trains the rest."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from reftbench.training.run import train

# Seconds per run on two cores (the sizes of tests/test_lora.py).
FAST = {"model": "random-micro", "n_train": "12", "n_test": "8", "prompts_per_step": "2",
        "num_generations": "2", "max_completion_length": "8", "sft_batch_size": "4",
        "logging_steps": "1", "save_steps": "1", "evaluate": "false"}
ENCODER = ("visual.patch_embed.", "visual.blocks.")


def length_reward(completions, **kwargs):
    """A reward with spread even for a random model (GRPO learns nothing from equal rewards)."""
    return [float(len(str(c))) for c in completions]


def changed_weights(model_dir: Path) -> set[str]:
    from reftbench.model.names import preset_path

    before = load_file(str(preset_path("random-micro") / "model.safetensors"))
    after = load_file(str(model_dir / "model.safetensors"))
    assert set(after) == set(before)
    return {k for k in before if not torch.equal(before[k], after[k])}


@pytest.mark.parametrize("name,extra", [("grpo", {"grpo_steps": "2"}), ("sft", {"sft_steps": "2"})])
def test_frozen_vision_encoder_stays_as_it_was(tmp_path, monkeypatch, name, extra):
    import reftbench.training.trl_rewards

    monkeypatch.setattr(reftbench.training.trl_rewards, "make_reward_funcs", lambda *args: [length_reward])
    from reftbench.registry import load_trainer

    names = {f.name for f in dataclasses.fields(load_trainer(name).config_cls)}
    fields = {k: v for k, v in {**FAST, **extra}.items() if k in names}
    frozen = changed_weights(Path(train(name, overrides={**fields, "freeze_vision": "true"},
                                        output=tmp_path / "frozen")["model"]))
    assert any(k.startswith("model.layers.") for k in frozen), sorted(frozen)
    assert not any(part in k for k in frozen for part in ENCODER), sorted(frozen)
    # The same run without the setting does move the encoder, so the check above can fail.
    free = changed_weights(Path(train(name, overrides=fields, output=tmp_path / "free")["model"]))
    assert any(part in k for k in free for part in ENCODER)
