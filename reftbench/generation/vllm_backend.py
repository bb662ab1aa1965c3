"""Optional vLLM generation backend (GPU only): same interface as `TransformersBackend`.

    backend = VLLMBackend("/models/Qwen2.5-VL-3B-Instruct", batch_size=64)
    backend.generate(samples, Sampling(n=4, temperature=1.0))   # -> 4 completions per sample

Install with `pip install 'reftbench[vllm]'` on a CUDA machine (vLLM pins its own CUDA torch
and an older transformers than the CPU stack's). vLLM is imported only when a backend is
built, so the default CPU install never needs it. Prompts are rendered with the checkpoint's
own processor (the same chat template as training and the transformers backend), and each
image goes in as `multi_modal_data`; vLLM expands the template's image placeholder itself.

GRPO rollouts with vLLM do not go through this class: `use_vllm` / `vllm_mode` are handed to
TRL's GRPOTrainer, which runs vLLM itself (`reftbench.training.grpo_stage.grpo_args`). Both kinds
of engine are let go with `release_engine` when their stage ends, so the next one has the memory.
Under `accelerate launch` each rank builds its own engine on its own GPU, as TRL's colocate mode
does (vLLM's external launcher), and generates its share of the prompts.
"""

from __future__ import annotations

import importlib.util

from reftbench.generation.decoding import Sampling
from reftbench.errors import UserError

INSTALL_HINT = "install reftbench[vllm] on a GPU machine"


def require_vllm() -> None:
    """Raise one clear UserError unless vLLM is installed and a CUDA GPU is visible."""
    if importlib.util.find_spec("vllm") is None:
        raise UserError(f"the vllm backend needs the vllm package: {INSTALL_HINT}")
    import torch

    if not torch.cuda.is_available():
        raise UserError(f"the vllm backend needs a CUDA GPU, and none is visible: {INSTALL_HINT}")


class VLLMBackend:
    """Batched multimodal generation with `vllm.LLM` (n samples per prompt in one request)."""

    def __init__(self, model: str, batch_size: int = 64, dtype: str = "auto", seed: int = 0,
                 gpu_memory_utilization: float = 0.85, max_model_len: int | None = 4096):
        require_vllm()
        from vllm import LLM

        from reftbench.model.load import load_processor
        from reftbench.model.names import resolve_model
        from reftbench.distributed import rank, world_size

        where = resolve_model(model)  # base and presets become folders (presets build once)
        self.processor = load_processor(where)
        self.batch_size = batch_size
        # One engine per rank, on the rank's GPU, inside the launched job (as TRL's colocate);
        # each rank samples its own prompts, with its own seed.
        launched = {"distributed_executor_backend": "external_launcher"} if world_size() > 1 else {}
        self.llm = LLM(model=where, dtype=dtype, seed=seed + rank(), max_model_len=max_model_len,
                       gpu_memory_utilization=gpu_memory_utilization,
                       limit_mm_per_prompt={"image": 1}, **launched)

    def request(self, sample: dict) -> dict:
        """One vLLM prompt: the chat-templated text and the sample's image."""
        from reftbench.data.generated import load_image
        from reftbench.prompts import build_messages

        text = self.processor.apply_chat_template(build_messages(sample), tokenize=False,
                                                  add_generation_prompt=True)
        return {"prompt": text, "multi_modal_data": {"image": load_image(sample["image_path"])}}

    def generate(self, samples: list[dict], sampling: Sampling) -> list[list[str]]:
        """For each sample, `sampling.n` completions (greedy: one answer, repeated n times)."""
        params = sampling_params(sampling)
        out: list[list[str]] = []
        for start in range(0, len(samples), self.batch_size):
            chunk = samples[start:start + self.batch_size]
            results = self.llm.generate([self.request(s) for s in chunk], params, use_tqdm=False)
            for result in results:  # vLLM returns results in prompt order
                texts = [c.text for c in result.outputs]
                out.append(texts * (sampling.n // len(texts)))
        return out


    def close(self) -> None:
        """Free the engine's GPU memory (the backend cannot generate afterwards)."""
        if self.llm is not None:
            release_engine(self.llm, asleep=False)
            self.llm = None


def release_engine(llm, asleep: bool) -> None:
    """Let a vLLM engine go, so a trainer or the next engine in this process gets its memory.

    An engine built with sleep mode is put to sleep at level 2 (weights and KV cache dropped:
    the memory is free at once); vLLM versions with `shutdown()` then tear it down. The caller
    drops its last reference; deleting alone does not always free an in-process engine.
    """
    if not asleep and _sleep_mode(llm):
        llm.sleep(level=2)
    shutdown = getattr(llm, "shutdown", None)
    if callable(shutdown):
        shutdown()


def _sleep_mode(llm) -> bool:
    """Whether the engine was built with sleep mode (only then can it sleep)."""
    engine = getattr(llm, "llm_engine", None)
    config = getattr(getattr(engine, "vllm_config", None), "model_config", None)
    return bool(getattr(config, "enable_sleep_mode", False))


def sampling_params(sampling: Sampling):
    """vLLM SamplingParams equal to a reftbench Sampling (temperature 0 = greedy, n = 1), every
    decoding field explicit so the checkpoint's generation_config cannot change it."""
    from vllm import SamplingParams

    greedy = sampling.temperature == 0
    return SamplingParams(n=1 if greedy else sampling.n, temperature=sampling.temperature,
                          top_p=1.0 if greedy else sampling.top_p,
                          top_k=0 if greedy else sampling.top_k,
                          min_p=0.0 if greedy else sampling.min_p,
                          repetition_penalty=sampling.repetition_penalty,
                          max_tokens=sampling.max_new_tokens, skip_special_tokens=True)
