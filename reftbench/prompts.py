"""Turn a sample into chat messages: the one place the answer-format instruction lives.

Training (TRL's conversational prompts), evaluation and the lmms-eval task files all call
`build_messages`, so the model sees the same prompt everywhere.

Generated questions say what goes inside <answer> themselves ("Answer [x1, y1, x2, y2] in
pixels ..."); real-data questions (`--data`) usually do not. Their records carry
`"ask_answer_form": true`, and the prompt then adds the same kind of sentence from ANSWER_FORMS
after the question. (The question itself stays as written: the train/test overlap check
compares questions, and a judge and an open version of one test question must still match.)
"""

FORMAT_INSTRUCTION = (
    "Think briefly inside <think></think>, then give the final answer inside <answer></answer>."
)

# What goes inside <answer>, for a question that does not say: by tier, and for the open tier
# by family. "choice-many" is a choice question where several letters may be right.
ANSWER_FORMS = {
    "judge": "Answer yes or no.",
    "choice": "Answer with the letter of the correct option.",
    "choice-many": "Answer with every correct letter, separated by commas (e.g. A,C).",
    "detection": "Answer with one bounding box [x1, y1, x2, y2] in pixels.",
    "classification": "Answer with the names of all categories present, separated by commas.",
    "math": "Answer with the final number or expression only.",
}


def answer_form(sample: dict) -> str:
    """The ANSWER_FORMS sentence for a sample ("" for a tier or family it does not know)."""
    tier = sample.get("tier")
    if tier == "choice":
        # Classification choice questions may have several right letters (Curr-ReFT's too).
        many = sample.get("family") == "classification" or "," in str(sample.get("answer", ""))
        return ANSWER_FORMS["choice-many" if many else "choice"]
    if tier == "open":
        return ANSWER_FORMS.get(sample.get("family"), "")
    return ANSWER_FORMS.get(tier, "")


def prompt_text(sample: dict) -> str:
    """The user text for a sample: its question, its answer form if it asks for one (real
    data), then the format instruction."""
    form = answer_form(sample) if sample.get("ask_answer_form") else ""
    return "\n".join(part for part in (sample["question"], form, FORMAT_INSTRUCTION) if part)


def build_messages(sample: dict, image: bool = True) -> list[dict]:
    """Chat messages (transformers' multimodal format) with one image placeholder, or with
    none when `image` is False (the question's words alone)."""
    text = {"type": "text", "text": prompt_text(sample)}
    return [{"role": "user", "content": [{"type": "image"}, text] if image else [text]}]
