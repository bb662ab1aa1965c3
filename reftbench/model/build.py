"""Build an embedded model from a preset, fully offline: tokenizer, processor, random weights.

The folder written is a standard Qwen2.5-VL checkpoint (config.json, model.safetensors,
tokenizer and processor files) plus `reftbench.json`, which records how it was made. Building is
deterministic: the same preset and seed give the same bytes. A pretrained preset (`smol`) takes
its language model and tokenizer from reftbench/model/smol.py and only its vision tower from
`seed`.

    build_model("random-tiny", Path("models/random-tiny"), seed=0)
"""

import json
from pathlib import Path

import torch
from transformers import GenerationConfig, Qwen2_5_VLForConditionalGeneration
from transformers.utils import logging as hf_logging

import reftbench
from reftbench.errors import UserError
from reftbench.fileio import follow_umask_tree
from reftbench.model.presets import PRESETS, PRETRAINED_PRESETS, preset_dict, qwen_config
from reftbench.model.processor import build_processor
from reftbench.model.tokenizer import build_tokenizer

# Bump when the tokenizer corpus or the config builder changes, so cached builds are remade.
BUILD_VERSION = 2


def build_info(preset: str, seed: int, model=None) -> dict:
    """The reftbench.json record; parameter counts are added when the model is given."""
    info = {
        "preset": preset,
        "seed": seed,
        "build_version": BUILD_VERSION,
        "preset_config": preset_dict(preset),
        "reftbench_version": reftbench.__version__,
    }
    if model is not None:
        # parameters() yields a tied embedding once, so these count unique weights.
        info["parameters"] = sum(p.numel() for p in model.parameters())
        info["vision_parameters"] = sum(p.numel() for p in model.model.visual.parameters())
    return info


def random_model(preset: str, seed: int):
    """(model, processor, record) of an embedded preset: local tokenizer, random weights."""
    tokenizer = build_tokenizer()
    config = qwen_config(PRESETS[preset], tokenizer)
    # Seed only around initialisation, restoring the caller's RNG state afterwards.
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = Qwen2_5_VLForConditionalGeneration(config)
    return model, build_processor(tokenizer), {}


def build_model(preset: str, out_dir: Path, seed: int = 0) -> Path:
    """Write a freshly initialised `preset` model (weights from `seed`) to `out_dir`."""
    if preset in PRETRAINED_PRESETS:
        from reftbench.model.smol import build_smol

        model, processor, record = build_smol(PRETRAINED_PRESETS[preset], seed)
    elif preset in PRESETS:
        model, processor, record = random_model(preset, seed)
    else:
        names = ", ".join([*PRESETS, *PRETRAINED_PRESETS])
        raise UserError(f"unknown model preset {preset!r}; choose one of {names}")
    out_dir = Path(out_dir)
    tokenizer = processor.tokenizer
    model.generation_config = GenerationConfig(
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        # The embedded tokenizer has no BOS token; its pad token stands in, as before.
        bos_token_id=tokenizer.pad_token_id if tokenizer.bos_token_id is None
        else tokenizer.bos_token_id,
    )
    out_dir.mkdir(parents=True, exist_ok=True)
    # A one-file save needs no progress bar (it would print on every first use of a preset).
    bars_were_on = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        model.save_pretrained(out_dir, safe_serialization=True)
        processor.save_pretrained(out_dir)
    finally:
        if bars_were_on:
            hf_logging.enable_progress_bar()
    info = {**build_info(preset, seed, model), **record}
    (out_dir / "reftbench.json").write_text(json.dumps(info, indent=2) + "\n")
    follow_umask_tree(out_dir)  # the weights are written private (0600); the umask decides
    return out_dir
