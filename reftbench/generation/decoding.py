"""Decoding settings shared by every generation engine (reftbench/generation/backends.py and
generation_vllm.py), in a module of their own so neither engine imports the other for them."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Sampling:
    """Decoding settings for one generation call.

    Every field is passed to the engine explicitly (see `generate_kwargs`): a checkpoint's
    generation_config.json (Qwen2.5-VL-3B-Instruct ships top_k=1, top_p=0.001 and
    repetition_penalty=1.05) must not make K samples identical or change greedy scores.
    """

    # Longest completion, in new tokens.
    max_new_tokens: int = 64
    # 0 means greedy decoding; > 0 samples at this temperature.
    temperature: float = 0.0
    # Nucleus sampling mass (used only when temperature > 0); 1.0 = off.
    top_p: float = 1.0
    # Keep only the k most likely tokens (used only when temperature > 0); 0 = off.
    top_k: int = 0
    # Drop tokens below min_p x the top token's probability (temperature > 0); 0.0 = off.
    min_p: float = 0.0
    # Penalty on tokens already in the prompt or completion; 1.0 = off (greedy too).
    repetition_penalty: float = 1.0
    # Completions per prompt.
    n: int = 1

    def __post_init__(self):
        if (self.n < 1 or self.max_new_tokens < 1 or self.temperature < 0 or self.top_k < 0
                or not 0 < self.top_p <= 1 or not 0 <= self.min_p <= 1
                or self.repetition_penalty <= 0):
            raise ValueError(f"invalid sampling settings {self}")
