"""Turn a sample into chat messages: the one place the answer-format instruction lives.

Training (TRL's conversational prompts), evaluation and the lmms-eval task files all call
`build_messages`, so the model sees the same prompt everywhere.
"""

FORMAT_INSTRUCTION = (
    "Think briefly inside <think></think>, then give the final answer inside <answer></answer>."
)


def prompt_text(sample: dict) -> str:
    """The user text for a sample: its question followed by the format instruction."""
    return f"{sample['question']}\n{FORMAT_INSTRUCTION}"


def build_messages(sample: dict) -> list[dict]:
    """Chat messages (transformers' multimodal format) with one image placeholder."""
    return [
        {
            "role": "user",
            "content": [
                {"type": "image"},
                {"type": "text", "text": prompt_text(sample)},
            ],
        }
    ]
