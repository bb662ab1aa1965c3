"""Tiny random checkpoints of every architecture `--model` accepts, built offline.

A real checkpoint cannot be downloaded here, so tests (tests/test_archs.py) and benchmarks build
a few-layer, random-weight model of each architecture and save it exactly as `save_pretrained`
saves a hub checkpoint: config, weights, a tokenizer with that family's special tokens, its chat
template and its PIL image processor (no torchvision), and no `reftbench.json`. Loading such a
folder therefore takes the same Auto-class route as Qwen2.5-VL-3B or SmolVLM-256M would.

    folder = build_tiny("llava_next", tmp_path / "llava_next", seed=0)
    model, processor = load_model(str(folder))

`ARCHS` names them; `hub_layout` rewrites a folder into the older file layout most hub
checkpoints still have; `liven` makes a random model's greedy output depend on its input.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from tokenizers import AddedToken
from tokenizers.processors import TemplateProcessing
from transformers import GenerationConfig, PreTrainedTokenizerFast

from reftbench.model.tokenizer import train_backend

# One small shape for every language model: 2 layers, 64 wide, grouped-query attention.
TEXT = dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
            num_key_value_heads=2, max_position_embeddings=4096)
# CLIP/SigLIP-style vision towers: 56 px images in 14 px patches, i.e. 4x4 = 16 patches.
VISION = dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2,
              image_size=56, patch_size=14)

# Chat templates in each family's own style. Content may be a string or a list of parts.
# LLaVA-1.5 (llava-hf): "USER: <image>\nquestion ASSISTANT:"; the tokenizer adds <s>.
LLAVA_TEMPLATE = (
    "{% for message in messages %}"
    "{% if message['role'] != 'system' %}{{ message['role'].upper() + ': ' }}{% endif %}"
    "{% if message['content'] is string %}{{ message['content'] + ' ' }}{% else %}"
    "{% for part in message['content'] if part['type'] == 'image' %}{{ '<image>\n' }}{% endfor %}"
    "{% for part in message['content'] if part['type'] == 'text' %}{{ part['text'] + ' ' }}"
    "{% endfor %}{% endif %}"
    "{% endfor %}{% if add_generation_prompt %}{{ 'ASSISTANT:' }}{% endif %}"
)
# LLaVA-NeXT (llava-v1.6-mistral): "[INST] <image>\nquestion [/INST]"; the tokenizer adds <s>.
LLAVA_NEXT_TEMPLATE = (
    "{% for message in messages %}"
    "{% if message['content'] is string %}{% set text = message['content'] %}{% set images = 0 %}"
    "{% else %}{% set text = message['content'] | selectattr('type', 'equalto', 'text')"
    " | map(attribute='text') | join('') %}"
    "{% set images = message['content'] | selectattr('type', 'equalto', 'image') | list"
    " | length %}{% endif %}"
    "{% if message['role'] == 'assistant' %}{{ ' ' + text + '</s>' }}"
    "{% else %}{{ '[INST] ' + '<image>\n' * images + text + ' [/INST]' }}{% endif %}"
    "{% endfor %}"
)
# SmolVLM (Idefics3): "<|im_start|>User:<image>question<end_of_utterance>\nAssistant:".
IDEFICS3_TEMPLATE = (
    "<|im_start|>{% for message in messages %}{{ message['role'] | capitalize }}"
    "{% if message['content'] is string %}{{ ': ' + message['content'] }}{% else %}"
    "{% if message['content'][0]['type'] == 'image' %}{{ ':' }}{% else %}{{ ': ' }}{% endif %}"
    "{% for part in message['content'] %}{% if part['type'] == 'text' %}{{ part['text'] }}"
    "{% elif part['type'] == 'image' %}{{ '<image>' }}{% endif %}{% endfor %}{% endif %}"
    "<end_of_utterance>\n{% endfor %}{% if add_generation_prompt %}{{ 'Assistant:' }}{% endif %}"
)
# Idefics3 marks each tile of a split image with its row and column (a 6x6 grid at most).
ROW_COL_TOKENS = [f"<row_{r}_col_{c}>" for r in range(1, 7) for c in range(1, 7)]


def tokenizer(specials, *, eos, pad, bos=None, template, extra=(), add_bos=False):
    """reftbench's locally trained BPE with this family's special tokens and chat template."""
    backend = train_backend(special_tokens=list(specials))
    backend.add_special_tokens([AddedToken(t, special=True, normalized=False) for t in extra])
    if add_bos:  # Llama/Mistral tokenizers put <s> before every encoded text
        backend.post_processor = TemplateProcessing(
            single=f"{bos} $A", pair=f"{bos} $A {bos} $B",
            special_tokens=[(bos, backend.token_to_id(bos))])
    return PreTrainedTokenizerFast(
        tokenizer_object=backend, eos_token=eos, pad_token=pad, bos_token=bos, unk_token=None,
        padding_side="left", clean_up_tokenization_spaces=False, model_max_length=32768,
        chat_template=template)


def text_config(model_type: str, tok) -> dict:
    """The small language model, its vocabulary and special ids taken from `tok`."""
    return dict(TEXT, model_type=model_type, vocab_size=len(tok), bos_token_id=tok.bos_token_id,
                eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id)


def qwen2_5_vl():
    """Qwen2.5-VL: the random-micro preset's shape, saved as a plain checkpoint."""
    from transformers import Qwen2_5_VLForConditionalGeneration

    from reftbench.model.presets import PRESETS, qwen_config
    from reftbench.model.processor import build_processor
    from reftbench.model.tokenizer import build_tokenizer

    tok = build_tokenizer()
    return Qwen2_5_VLForConditionalGeneration, qwen_config(PRESETS["random-micro"], tok), \
        build_processor(tok)


def qwen2_vl():
    """Qwen2-VL: Qwen's tokens and template; the vision tower without window attention."""
    from transformers import Qwen2VLConfig, Qwen2VLForConditionalGeneration

    from reftbench.model.presets import mrope_section
    from reftbench.model.processor import build_processor
    from reftbench.model.tokenizer import build_tokenizer

    tok = build_tokenizer()
    ids = tok.convert_tokens_to_ids
    head_dim = TEXT["hidden_size"] // TEXT["num_attention_heads"]
    rope = {"rope_type": "default", "rope_theta": 1e6, "mrope_section": mrope_section(head_dim)}
    text = {k: v for k, v in text_config("qwen2_vl_text", tok).items() if k != "model_type"}
    config = Qwen2VLConfig(
        text_config=dict(text, rope_parameters=rope),
        vision_config=dict(depth=1, embed_dim=32, hidden_size=64, num_heads=2, mlp_ratio=2,
                           patch_size=14, spatial_merge_size=2, temporal_patch_size=2),
        image_token_id=ids("<|image_pad|>"), video_token_id=ids("<|video_pad|>"),
        vision_start_token_id=ids("<|vision_start|>"), vision_end_token_id=ids("<|vision_end|>"))
    processor = build_processor(tok)
    processor.stock_class = "Qwen2VLProcessor"
    return Qwen2VLForConditionalGeneration, config, processor


def llava():
    """LLaVA-1.5: CLIP tower, Llama text model, 16 <image> tokens for a 56 px centre crop."""
    from transformers import (CLIPImageProcessorPil, LlavaConfig,
                              LlavaForConditionalGeneration, LlavaProcessor)

    tok = tokenizer(["<unk>", "<s>", "</s>", "<image>", "<pad>"], eos="</s>", pad="<pad>",
                    bos="<s>", template=LLAVA_TEMPLATE, add_bos=True)
    config = LlavaConfig(
        vision_config=dict(VISION, model_type="clip_vision_model"),
        text_config=text_config("llama", tok),
        image_token_index=tok.convert_tokens_to_ids("<image>"), image_seq_length=16,
        vision_feature_layer=-2, vision_feature_select_strategy="default")
    images = CLIPImageProcessorPil(size={"shortest_edge": 56},
                                   crop_size={"height": 56, "width": 56})
    # num_additional_image_tokens=1: the CLS token, which "default" selection then drops.
    processor = LlavaProcessor(images, tok, patch_size=14, num_additional_image_tokens=1,
                               vision_feature_select_strategy="default",
                               chat_template=LLAVA_TEMPLATE)
    return LlavaForConditionalGeneration, config, processor


def llava_next():
    """LLaVA-NeXT: any-resolution tiles (a 112 px image is 2x2 tiles plus the overview)."""
    from transformers import (LlavaNextConfig, LlavaNextForConditionalGeneration,
                              LlavaNextImageProcessorPil, LlavaNextProcessor)

    pinpoints = [[56, 112], [112, 56], [112, 112]]
    tok = tokenizer(["<unk>", "<s>", "</s>", "<image>", "<pad>"], eos="</s>", pad="<pad>",
                    bos="<s>", template=LLAVA_NEXT_TEMPLATE, add_bos=True)
    config = LlavaNextConfig(
        vision_config=dict(VISION, model_type="clip_vision_model"),
        text_config=text_config("mistral", tok),
        image_token_index=tok.convert_tokens_to_ids("<image>"), image_grid_pinpoints=pinpoints,
        image_seq_length=16, vision_feature_layer=-2, vision_feature_select_strategy="default")
    images = LlavaNextImageProcessorPil(size={"shortest_edge": 56},
                                        crop_size={"height": 56, "width": 56},
                                        image_grid_pinpoints=pinpoints)
    processor = LlavaNextProcessor(images, tok, patch_size=14, num_additional_image_tokens=1,
                                   vision_feature_select_strategy="default",
                                   chat_template=LLAVA_NEXT_TEMPLATE)
    return LlavaNextForConditionalGeneration, config, processor


def idefics3():
    """SmolVLM / Idefics3: SigLIP tower, pixel shuffle by 2, 112 px split into 2x2 tiles."""
    from transformers import (Idefics3Config, Idefics3ForConditionalGeneration,
                              Idefics3ImageProcessorPil, Idefics3Processor)

    tok = tokenizer(["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<end_of_utterance>",
                     "<fake_token_around_image>", "<image>", "<global-img>"],
                    eos="<end_of_utterance>", pad="<|im_end|>", bos="<|im_start|>",
                    template=IDEFICS3_TEMPLATE, extra=ROW_COL_TOKENS)
    config = Idefics3Config(
        vision_config=VISION, text_config=text_config("llama", tok), scale_factor=2,
        image_token_id=tok.convert_tokens_to_ids("<image>"))
    images = Idefics3ImageProcessorPil(size={"longest_edge": 112},
                                       max_image_size={"longest_edge": 56})
    # (56 / 14)^2 patches per tile, pixel-shuffled by 2x2 into 4 tokens.
    processor = Idefics3Processor(images, tok, image_seq_len=4, chat_template=IDEFICS3_TEMPLATE)
    return Idefics3ForConditionalGeneration, config, processor


# Each architecture's builder: () -> (model class, config, processor).
ARCHS = {"qwen2_5_vl": qwen2_5_vl, "qwen2_vl": qwen2_vl, "llava": llava,
         "llava_next": llava_next, "idefics3": idefics3}


def build_tiny(arch: str, out_dir: Path, seed: int = 0) -> Path:
    """Write a random-weight `arch` checkpoint (weights from `seed`) to `out_dir`."""
    if arch not in ARCHS:
        raise ValueError(f"unknown architecture {arch!r}; choose one of {', '.join(ARCHS)}")
    model_class, config, processor = ARCHS[arch]()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = model_class(config)
    tok = processor.tokenizer
    model.generation_config = GenerationConfig(
        eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id, bos_token_id=tok.bos_token_id)
    out_dir = Path(out_dir)
    model.save_pretrained(out_dir)
    processor.save_pretrained(out_dir)
    return out_dir


def hub_layout(folder: Path) -> Path:
    """Rewrite a saved folder into the layout of most hub checkpoints (saved before
    transformers 5): image processor settings in preprocessor_config.json, the chat template in
    chat_template.json, processor_config.json only for the processor's own settings."""
    folder = Path(folder)
    settings = json.loads((folder / "processor_config.json").read_text())
    image = dict(settings.pop("image_processor"), processor_class=settings["processor_class"])
    (folder / "preprocessor_config.json").write_text(json.dumps(image, indent=2))
    if len(settings) > 1:
        (folder / "processor_config.json").write_text(json.dumps(settings, indent=2))
    else:
        (folder / "processor_config.json").unlink()
    template = (folder / "chat_template.jinja").read_text()
    (folder / "chat_template.json").write_text(json.dumps({"chat_template": template}))
    (folder / "chat_template.jinja").unlink()
    return folder


def liven(model, scale: float = 0.3, seed: int = 0):
    """Re-draw every weight matrix at `scale` (seeded), in place, so that greedy outputs
    depend on the whole input: untrained logits are nearly flat and repeat one token."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for param in model.parameters():
            if param.dim() >= 2:
                param.copy_(torch.randn(param.shape, generator=gen) * scale)
    return model
