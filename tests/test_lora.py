"""LoRA as a trainer option: only adapters train, and every stage still saves a full model."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file
from transformers import TrainerCallback

from reftbench.config import resolve
from reftbench.errors import UserError
from reftbench.registry import load_trainer
from reftbench.training.run import train

# Seconds per run on two cores (the same sizes as tests/test_trainers.py).
FAST = {"model": "random-micro", "n_train": "12", "n_test": "8", "prompts_per_step": "2",
        "num_generations": "2", "max_completion_length": "8", "sft_batch_size": "4",
        "logging_steps": "1", "save_steps": "1", "evaluate": "false", "lora_r": "4"}
# The language model's projections LoRA targets by default, per decoder layer.
PROJECTIONS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")


def length_reward(completions, **kwargs):
    """A reward with spread even for a random model (GRPO learns nothing from equal rewards)."""
    return [float(len(str(c))) for c in completions]


class Trainable(TrainerCallback):
    """Records which parameters require grad once training has begun."""

    names: list[str] = []
    total = 0

    def on_train_begin(self, args, state, control, model=None, **kwargs):
        Trainable.names = [n for n, p in model.named_parameters() if p.requires_grad]
        Trainable.total = sum(1 for _ in model.named_parameters())


def config(name: str, **overrides):
    plugin = load_trainer(name)
    return resolve(plugin.config_cls, plugin.presets, "tiny", overrides=overrides)


@pytest.mark.parametrize("name,extra", [("grpo", {"grpo_steps": "2", "beta": "0.04"}),
                                        ("sft", {"sft_steps": "2"})])
def test_lora_trains_only_adapters_and_saves_a_full_model(tmp_path, monkeypatch, name, extra):
    import reftbench.training.trl_rewards
    from reftbench.model.load import load_model
    from reftbench.model.names import preset_path
    from reftbench.training import trl_common

    monkeypatch.setattr(reftbench.training.trl_rewards, "make_reward_funcs", lambda *args: [length_reward])
    plain = trl_common.callbacks
    monkeypatch.setattr(trl_common, "callbacks", lambda *a: plain(*a) + [Trainable()])
    fields = {f for f in vars(config(name))}
    out = train(name, overrides={k: v for k, v in {**FAST, **extra}.items() if k in fields},
                output=tmp_path / "run")

    # Two adapter matrices (A, B) per targeted projection, nothing else, and no vision adapters.
    layers = 2  # the micro preset's decoder layers
    assert len(Trainable.names) == 2 * len(PROJECTIONS) * layers < Trainable.total
    assert all("lora_" in n and "language_model" in n for n in Trainable.names)

    # The saved stage model is a plain full checkpoint: no adapter files, same tensors as the
    # input, the language model's projections changed, the vision tower untouched.
    model_dir = Path(out["model"])
    assert not (model_dir / "adapter_config.json").exists()
    before = load_file(str(preset_path("random-micro") / "model.safetensors"))
    after = load_file(str(model_dir / "model.safetensors"))
    assert set(after) == set(before)
    changed = {k for k in before if not torch.equal(before[k], after[k])}
    assert changed and all(k.endswith(tuple(f"{p}.weight" for p in PROJECTIONS)) for k in changed)
    assert not any("visual" in k for k in changed)
    model, _ = load_model(model_dir)
    assert not any("lora" in n for n, _ in model.named_parameters())


def test_lora_off_by_default_and_scoped_to_the_language_model(micro):
    from reftbench.training.lora import lora_config

    model, _ = micro
    for name in ("sft", "grpo", "curr-rl", "curr-reft"):
        assert config(name).lora_r == 0
    assert lora_config(config("grpo"), model) is None
    peft_cfg = lora_config(config("grpo", lora_r="8", lora_alpha="32", lora_dropout="0.1",
                                  lora_target_modules="q_proj,v_proj"), model)
    assert (peft_cfg.r, peft_cfg.lora_alpha, peft_cfg.lora_dropout) == (8, 32, 0.1)
    import re

    hits = [n for n, _ in model.named_modules() if re.fullmatch(peft_cfg.target_modules, n)]
    assert len(hits) == 4 and all("language_model" in n for n in hits)


def test_bad_lora_settings_are_refused(micro):
    from reftbench.training.lora import lora_config

    model, _ = micro
    with pytest.raises(UserError, match="lora_r must be 0"):
        lora_config(config("sft", lora_r="-1"), model)
    with pytest.raises(UserError, match="match no module"):
        lora_config(config("sft", lora_r="4", lora_target_modules="qq_proj"), model)
    with pytest.raises(UserError, match="at least one module"):
        lora_config(config("sft", lora_r="4", lora_target_modules=""), model)


@pytest.mark.parametrize("arch", ["qwen2_5_vl", "llava", "idefics3"])
def test_lora_scope_finds_each_architectures_language_model(tmp_path, arch):
    import re

    from reftbench.model.load import load_model
    from reftbench.model.tiny_archs import build_tiny
    from reftbench.training.lora import lora_config

    model, _ = load_model(str(build_tiny(arch, tmp_path / arch)))
    target = lora_config(config("grpo", lora_r="4"), model).target_modules
    hits = [n for n, _ in model.named_modules() if re.fullmatch(target, n)]
    decoder = {"idefics3": ".text_model."}.get(arch, ".language_model.")
    assert hits and all(decoder in n for n in hits)  # Idefics3's vision encoder has q/k/v_proj too
    assert len(hits) == len(PROJECTIONS) * model.config.get_text_config().num_hidden_layers
