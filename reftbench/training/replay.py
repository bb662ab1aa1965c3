"""A user's own replay data for Curr-ReFT's rejection-sampling SFT (config `replay_data`).

    reftbench train curr-reft --data grpo_data --replay_data general.jsonl [--replay_image_root DIR]
    load_replay("general.jsonl")   # -> sample records whose SFT target is the row's answer

Without `replay_data` the SFT stage replays the embedded base model's generated general
mixture (reftbench/training/splits.py). With it, each replayed example is a row of that file
(JSONL, or a `.json` array), in one of two forms:

    {"image": "a.png", "question": "What is shown?", "answer": "a red bus"}
    {"messages": [{"role": "user", "content": "<image>What is shown?"},
                  {"role": "assistant", "content": "<answer>a red bus</answer>"}],
     "images": ["a.png"]}

- A `messages` row has one user turn and one assistant turn after it (a system turn is
  dropped: reftbench prompts have none); content is a string or a list of `{"type": "text"}` /
  `{"type": "image"}` parts. The image is `image`, or the one path in `images`.
- The SFT target keeps the row's own reasoning: an answer already written as
  `<think>..</think><answer>..</answer>` is trained as written, `<answer>x</answer>` or a bare
  `x` gets the same short think sentence as the generated replay (datasets.target_completion).
- Images resolve under `replay_image_root` (default: the file's folder) by their trailing path
  components, as the release reader does (reftbench/data/release.py); none outside it is opened.
- Text-only rows (no image) are kept and trained on their text alone (the paper's replay had
  500 text-only rows of 1,520); TRL's vision collator batches them with image prompts. Bad rows
  are skipped with file and line, or stop the run under `data_strict`.
- Without `replay_data`, a run on real data (`data`) stops before any work unless
  `replay_synthetic` allows the generated shapes mixture, or `replay_ratio` is 0: replaying
  coloured shapes would pull a real model towards them. Each rejection-SFT stage writes
  `replay.json` (which replay, how many rows, how many text-only).
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

from reftbench.errors import UserError
from reftbench.data.refdata import BadRow, _bad_row, _report
from reftbench.data.release import ImageRoot, data_rows
from reftbench.scoring.rewards import ANSWER_CLOSE, THINK_CLOSE, THINK_OPEN, extract_answer, format_ok

log = logging.getLogger(__name__)


def load_replay(path, image_root: str = "", strict: bool = False) -> list[dict]:
    """Every usable row of a replay file as a record (id, question, answer, think, image_path)."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise UserError(f"replay_data {path} does not exist (or is not a file)")
    root = Path(image_root).expanduser() if image_root else path.parent
    if not root.is_dir():
        raise UserError(f"replay_image_root {image_root} does not exist (or is not a folder)")
    images, problems, records = ImageRoot(root.resolve()), [], []
    for where, number, row in data_rows(path, problems, strict):
        try:
            question, answer, image = replay_row(row)
            records.append({"id": f"replay-{number}", "base_id": f"replay-{number}",
                            "family": "general", "split": "train", "tier": "open",
                            "question": question, **target_parts(answer), "image": image,
                            "image_path": images.find(image) if image is not None else None})
        except BadRow as exc:
            _bad_row(problems, strict, where, exc)
    _report(path, problems)
    if not records:
        raise UserError(f"replay_data {path} has no usable rows; see reftbench/training/replay.py")
    return records


def replay_row(row: dict) -> tuple[str, str, str | None]:
    """(question, answer text, image path or None) of one replay row (BadRow if unusable)."""
    if "messages" in row:
        question, answer = _chat_turns(row["messages"])
    else:
        question, answer = row.get("question"), row.get("answer")
        if not isinstance(question, str) or not isinstance(answer, str):
            raise BadRow("a row needs string question and answer fields, or messages")
    image = row.get("image", row.get("images"))
    if isinstance(image, list):
        if len(image) > 1:
            raise BadRow(f"{len(image)} images: a replay row has at most one")
        image = image[0] if image else None
    if image is not None and not isinstance(image, str):
        raise BadRow("image must be a path")
    question = re.sub(r"\s*<image>\s*", " ", question).strip()
    if not question or not answer.strip():
        raise BadRow("empty question or answer")
    return question, answer.strip(), image


def target_parts(answer: str) -> dict:
    """{"answer"[, "think"]}: what datasets.target_completion turns back into the target."""
    if format_ok(answer):  # already <think>..</think><answer>..</answer>: keep both parts
        think = answer[answer.index(THINK_OPEN) + len(THINK_OPEN):answer.index(THINK_CLOSE)]
        return {"answer": extract_answer(answer).strip(), "think": think.strip()}
    inner = extract_answer(answer)
    if inner is None and (ANSWER_CLOSE in answer or "<answer>" in answer):
        raise BadRow("answer has broken or repeated <answer> tags")
    return {"answer": (answer if inner is None else inner).strip()}


def _chat_turns(messages) -> tuple[str, str]:
    """The user's text and the assistant's reply of a one-exchange chat."""
    if not isinstance(messages, list) or not all(isinstance(m, dict) for m in messages):
        raise BadRow("messages must be a list of {role, content} objects")
    turns = [m for m in messages if m.get("role") != "system"]
    if [m.get("role") for m in turns] != ["user", "assistant"]:
        raise BadRow("messages must be one user turn then one assistant turn")
    return _text(turns[0].get("content")), _text(turns[1].get("content"))


def _text(content) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list) and all(isinstance(p, dict) for p in content):
        return " ".join(p["text"] for p in content
                        if p.get("type") == "text" and isinstance(p.get("text"), str))
    raise BadRow("message content must be text or a list of content parts")
