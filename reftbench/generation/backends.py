"""Generation backends: turn (sample prompts, images) into completions.

A backend takes a batch of samples and sampling settings and returns, for each sample, a list
of `n` completion strings (the text after the prompt, special tokens stripped). The evaluator
uses greedy decoding; the rejection sampler uses n > 1 with temperature. The transformers
backend batches with left padding; Qwen2.5-VL computes its M-RoPE positions from the attention
mask, and `tests/test_generation.py` checks that batched greedy outputs equal unbatched ones.
"""

from __future__ import annotations

from typing import Protocol

import torch

from reftbench.data.generated import load_image
from reftbench.generation.decoding import Sampling
from reftbench.errors import UserError
from reftbench.prompts import build_messages

# Generation engines `load_backend` knows ("auto": vLLM when installed and on a GPU).
ENGINES = ("auto", "transformers", "vllm")


def generate_kwargs(sampling: Sampling) -> dict:
    """`model.generate` settings for `sampling`, every decoding field explicit.

    Whatever `generate` is not told comes from the checkpoint's generation_config, so the
    neutral values are spelled out too: one beam, no repetition penalty, no n-gram ban, and
    (greedy) no sampling warpers at all.
    """
    common = dict(max_new_tokens=sampling.max_new_tokens, num_beams=1,
                  repetition_penalty=sampling.repetition_penalty, no_repeat_ngram_size=0)
    if sampling.temperature == 0:
        return dict(common, do_sample=False, temperature=None, top_p=None, top_k=None,
                    min_p=None, typical_p=None)
    return dict(common, do_sample=True, temperature=sampling.temperature, top_p=sampling.top_p,
                top_k=sampling.top_k, min_p=sampling.min_p or None, typical_p=1.0,
                epsilon_cutoff=0.0, eta_cutoff=0.0)


class Backend(Protocol):
    """What the evaluator and samplers need from a generation engine."""

    def generate(self, samples: list[dict], sampling: Sampling) -> list[list[str]]:
        """For each sample, `sampling.n` completions."""


def context_length(model) -> int | None:
    """The longest input the model's position embeddings cover (None when it does not say)."""
    config = getattr(model, "config", None)
    text = getattr(config, "text_config", None) or config
    return getattr(text, "max_position_embeddings", None)


def check_context(model, samples: list[dict], lengths: list[int]) -> None:
    """A UserError naming the first sample whose prompt (in tokens) exceeds the model's context:
    generating from it would allocate for the whole length and fail, or quietly degrade. A real
    data row's id is its file and line, so the message names the row to fix."""
    limit = context_length(model)
    for sample, length in zip(samples, lengths):
        if limit and length > limit:
            raise UserError(f"sample {sample.get('id', '?')}: its prompt is {length:,} tokens, "
                            f"more than the model's context of {limit:,}; shorten its question "
                            "or drop the row")


class TransformersBackend:
    """Batched `model.generate` with left padding, for any transformers VLM and processor."""

    def __init__(self, model, processor, batch_size: int = 16):
        self.model = model
        self.processor = processor
        self.batch_size = batch_size
        self.tokenizer = getattr(processor, "tokenizer", processor)
        self.tokenizer.padding_side = "left"

    def encode(self, samples: list[dict]) -> dict:
        """Chat-templated, tokenised, left-padded model inputs for a batch of samples."""
        texts = [self.processor.apply_chat_template(build_messages(s), tokenize=False,
                                                    add_generation_prompt=True) for s in samples]
        images = [load_image(s["image_path"]) for s in samples]
        inputs = self.processor(text=texts, images=images, padding=True, return_tensors="pt")
        check_context(self.model, samples, inputs["attention_mask"].sum(dim=1).tolist())
        return inputs.to(self.model.device)

    @torch.inference_mode()
    def generate(self, samples: list[dict], sampling: Sampling) -> list[list[str]]:
        out: list[list[str]] = []
        for start in range(0, len(samples), self.batch_size):
            out.extend(self._generate_batch(samples[start:start + self.batch_size], sampling))
        return out

    def _generate_batch(self, samples: list[dict], sampling: Sampling) -> list[list[str]]:
        inputs = self.encode(samples)
        # Greedy decoding gives one answer per prompt (and transformers refuses n > 1 for it).
        n = sampling.n if sampling.temperature > 0 else 1
        pad = self.tokenizer.pad_token_id
        ids = self.model.generate(**inputs, **generate_kwargs(sampling), num_return_sequences=n,
                                  pad_token_id=self.tokenizer.eos_token_id if pad is None else pad)
        new = ids[:, inputs["input_ids"].shape[1]:]
        texts = self.tokenizer.batch_decode(new, skip_special_tokens=True)
        # generate() repeats each prompt n times in a row: prompt i owns rows i*n .. i*n+n-1.
        return [texts[i * n:(i + 1) * n] * (sampling.n // n) for i in range(len(samples))]

    def close(self) -> None:
        """Drop the model, so its device memory can be reused (no generation afterwards)."""
        self.model = None
        if torch.cuda.is_available():
            import gc

            gc.collect()
            torch.cuda.empty_cache()


def load_backend(model: str, device: str = "cpu", dtype=None, batch_size: int = 16,
                 engine: str = "transformers") -> Backend:
    """A generation backend for `model` on `device` (a whole model, never a training shard).

    `engine`: "transformers", "vllm", or "auto" (vLLM when it is installed and the device is a
    GPU, else transformers). Call `close()` on it when done, before a trainer needs the memory.
    """
    import importlib.util

    from reftbench.model.load import load_model
    from reftbench.registry import check_names

    check_names("generation engine", [engine], ENGINES)
    if engine == "auto":
        found = importlib.util.find_spec("vllm") is not None
        engine = "vllm" if found and device.startswith("cuda") else "transformers"
    if engine == "vllm":
        from reftbench.generation.vllm_backend import VLLMBackend

        return VLLMBackend(model, batch_size=batch_size, dtype=str(dtype or "auto"))
    model_obj, processor = load_model(model, dtype=dtype, device=device)
    return TransformersBackend(model_obj, processor, batch_size=batch_size)
