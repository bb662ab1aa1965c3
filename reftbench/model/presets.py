"""Sizes of the embedded model: named presets and the Qwen2.5-VL config each one builds.

Every preset is randomly initialised, and its name says so: `random-micro` is for tests (well
under a million parameters, builds in about a second); `random-tiny` (about 2.4M parameters,
a size that learns to count in about ten CPU minutes) is what `reftbench base` trains into the
embedded base model, the trained default (`--model base`); `random-small` (5.8M) is the next
size up, for experiments. All are the real Qwen2.5-VL architecture, so everything downstream
also runs on a real Qwen2.5-VL checkpoint.

`smol` (in PRETRAINED_PRESETS) is the same architecture with a pretrained language model:
SmolLM2-135M-Instruct, converted by reftbench/model/smol.py, under a small random vision tower.
It is kept apart from PRESETS because building it needs the optional `smol` install.

    config = qwen_config(PRESETS["random-tiny"], tokenizer)
"""

from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class ModelPreset:
    """Shape of one embedded model; everything else is Qwen2.5-VL's defaults."""

    # Width of the language model's residual stream (also the vision merger's output width).
    text_hidden: int
    # Number of decoder layers in the language model.
    text_layers: int
    # Query heads; text_hidden / text_heads is the head size, which must be even.
    text_heads: int
    # Key/value heads (grouped-query attention); must divide text_heads.
    text_kv_heads: int
    # Width of the language model's SwiGLU feed-forward layer.
    text_intermediate: int
    # Width of the vision tower's transformer blocks.
    vision_hidden: int
    # Number of vision blocks.
    vision_depth: int
    # Vision heads; vision_hidden / vision_heads must be a multiple of 4 (2D rotary halves).
    vision_heads: int
    # Width of the vision blocks' SwiGLU feed-forward layer.
    vision_intermediate: int
    # Share the input embedding with the output head: at this size the embedding is a large
    # part of the model, and tying halves it.
    tie_embeddings: bool = True


PRESETS: dict[str, ModelPreset] = {
    "random-micro": ModelPreset(
        text_hidden=64, text_layers=2, text_heads=4, text_kv_heads=2, text_intermediate=128,
        vision_hidden=32, vision_depth=1, vision_heads=2, vision_intermediate=64,
    ),
    "random-tiny": ModelPreset(
        text_hidden=192, text_layers=4, text_heads=6, text_kv_heads=2, text_intermediate=512,
        vision_hidden=96, vision_depth=3, vision_heads=3, vision_intermediate=192,
    ),
    # The next size up (5.8M parameters, 1.2M in the vision tower): for measuring whether a
    # skill random-tiny learns slowly (naming shapes) is a matter of size.
    # experiments/skill_probe.py: 1.9x random-tiny's training time.
    "random-small": ModelPreset(
        text_hidden=256, text_layers=6, text_heads=8, text_kv_heads=2, text_intermediate=704,
        vision_hidden=128, vision_depth=4, vision_heads=4, vision_intermediate=256,
    ),
}

# Presets whose language model is pretrained: the text fields must equal that model's shape
# (reftbench/model/smol.py checks them against the converted weights); the vision fields are
# ours. 576 wide, 30 layers, 9 query / 3 key-value heads of 64, SwiGLU 1536: SmolLM2-135M.
PRETRAINED_PRESETS: dict[str, ModelPreset] = {
    "smol": ModelPreset(
        text_hidden=576, text_layers=30, text_heads=9, text_kv_heads=3, text_intermediate=1536,
        # About 4.6M vision parameters: tiny next to the 135M language model, and at 64 patches
        # per 112-px image its cost per step is a few percent of the language model's.
        vision_hidden=256, vision_depth=4, vision_heads=4, vision_intermediate=512,
    ),
}


def mrope_section(head_dim: int) -> list[int]:
    """Split head_dim/2 rotary frequencies over (time, height, width) in Qwen's 2:3:3 ratio.

    Qwen2.5-VL uses [16, 24, 24] for head size 128; the sections must sum to head_dim / 2.
    """
    half = head_dim // 2
    time = half // 4
    height = (half - time) // 2
    return [time, height, half - time - height]


def qwen_config(preset: ModelPreset, tokenizer, rope_theta: float = 1000000.0, **text):
    """A `Qwen2_5_VLConfig` for `preset`, its vocabulary and special ids taken from `tokenizer`.

    `rope_theta` and `text` (text-config fields such as rms_norm_eps) override Qwen's values,
    so that a pretrained language model keeps its own (reftbench/model/smol.py).
    """
    # Imported here so that listing presets does not import transformers.
    from transformers import Qwen2_5_VLConfig

    head_dim = preset.text_hidden // preset.text_heads
    ids = tokenizer.convert_tokens_to_ids
    text_config = dict(
        vocab_size=len(tokenizer),
        hidden_size=preset.text_hidden,
        intermediate_size=preset.text_intermediate,
        num_hidden_layers=preset.text_layers,
        num_attention_heads=preset.text_heads,
        num_key_value_heads=preset.text_kv_heads,
        max_position_embeddings=4096,
        max_window_layers=preset.text_layers,
        rope_parameters={"rope_type": "default", "rope_theta": rope_theta,
                         "mrope_section": mrope_section(head_dim)},
        bos_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        tie_word_embeddings=preset.tie_embeddings,
    )
    text_config.update(text)
    vision_config = dict(
        depth=preset.vision_depth,
        hidden_size=preset.vision_hidden,
        intermediate_size=preset.vision_intermediate,
        num_heads=preset.vision_heads,
        out_hidden_size=preset.text_hidden,
        patch_size=14,
        spatial_merge_size=2,
        temporal_patch_size=2,
        # A 112-px window: the presets' whole image, so window attention equals full attention.
        window_size=112,
        fullatt_block_indexes=[preset.vision_depth - 1],
    )
    return Qwen2_5_VLConfig(
        text_config=text_config,
        vision_config=vision_config,
        image_token_id=ids("<|image_pad|>"),
        video_token_id=ids("<|video_pad|>"),
        vision_start_token_id=ids("<|vision_start|>"),
        vision_end_token_id=ids("<|vision_end|>"),
        tie_word_embeddings=preset.tie_embeddings,
    )


def preset_dict(name: str) -> dict:
    """The preset's fields as a plain dict (written into reftbench.json)."""
    return asdict({**PRESETS, **PRETRAINED_PRESETS}[name])
