"""The five built-in accuracy functions that `reftbench.scoring.rewards.METRICS` names.

Each has the signature `(answer_text, sample) -> dict` with at least "accuracy" in [0, 1], where
`answer_text` is the inside of the completion's single <answer> block and the gold is
`sample["answer"]`. To add a metric, copy one of these into your own package and register it
under a name in the `reftbench.scoring.metrics` entry-point group; samples then name it by that name
(data rows cannot name code: see `reftbench.scoring.rewards.resolve_metric`).

All five are strict on purpose: the reference code's lenient scoring (substring matches, a true
set that is a subset of the prediction) was reward-hacked by "A or B or C", by empty answers and
by listing every class. So: a yes/no answer is one word, a letter set must equal the gold set,
a box is exactly four numbers (bare, or as the one `{"bbox_2d": [...], "label": ...}` object a
grounding model writes), a label list (comma-separated or one bracketed list) earns set-IoU, and
a math answer is one short expression. Every function checks the length of its input before any
regex or maths, and the maths comparison runs under a hard time limit (`reftbench.scoring.math_worker`),
so each call takes bounded time, and none raises on any text.
"""

import json
import math
import re

from reftbench.scoring.math_worker import equivalent
from reftbench.samples import LETTERS

# ---------------------------------------------------------------------------------- yes_no

_YES_NO = {
    "yes": "yes", "true": "yes", "correct": "yes",
    "no": "no", "false": "no", "incorrect": "no",
}


def _yes_no_label(text: str) -> str | None:
    """'yes'/'no' for one of the six words (any case, one trailing period), else None."""
    if len(text) > 32:
        return None
    word = text.strip().lower()
    if word.endswith("."):
        word = word[:-1]
    return _YES_NO.get(word)


def yes_no(answer_text: str, sample: dict) -> dict:
    """Judge tier: 1 if the one-word verdict matches the gold "yes"/"no"."""
    pred = _yes_no_label(answer_text)
    gold = _yes_no_label(str(sample.get("answer", "")))
    return {"accuracy": float(pred is not None and pred == gold)}


# --------------------------------------------------------------------------------- letters

_LETTER_TOKEN = re.compile(r"\(?([A-Za-z])\)?")


def _letter_set(text: str, valid: str) -> frozenset | None:
    """{'A', 'C'} for "A, C" / "A,C" / "C A" / "(A) (C)"; None for words or letters not offered."""
    text = text.strip()
    if not text or len(text) > 64:
        return None
    if text.endswith("."):
        text = text[:-1]
    chosen = set()
    for token in re.split(r"[,\s]+", text):
        match = _LETTER_TOKEN.fullmatch(token)
        # Any token that is not a lone letter ("or", "and", "B)C") rejects the whole answer.
        if match is None or match.group(1).upper() not in valid:
            return None
        chosen.add(match.group(1).upper())
    return frozenset(chosen)


def letters(answer_text: str, sample: dict) -> dict:
    """Choice tier: 1 if the predicted letter set equals the gold set; no partial credit."""
    options = sample.get("options")
    valid = LETTERS[: len(options)] if isinstance(options, (list, tuple)) and options else LETTERS
    pred = _letter_set(answer_text, valid)
    gold = _letter_set(str(sample.get("answer", "")), valid)
    return {"accuracy": float(pred is not None and pred == gold)}


# --------------------------------------------------------------------------------- box_iou

_NUM = r"([-+]?(?:\d+(?:\.\d*)?|\.\d+))"
_FOUR_NUMBERS = re.compile(r"\s*,\s*".join([_NUM] * 4))
# A JSON answer (Qwen2.5-VL's grounding form) is longer than a bare box: a label rides along.
MAX_JSON_BOX_CHARS = 512
# The keys a JSON box answer may have: the box itself and, optionally, what it is.
_JSON_BOX_KEYS = {"bbox_2d", "label"}


def parse_box(text: str) -> tuple[float, float, float, float] | None:
    """(x1, y1, x2, y2) from "[1, 2, 3, 4]", "(1,2,3,4)", "1, 2, 3, 4", or one JSON object
    `{"bbox_2d": [1, 2, 3, 4], "label": "cat"}` (alone or as the one item of a list); else None.
    """
    text = text.strip()
    if text[:1] in ("{", "[", "`") and "{" in text:
        return _json_box(text)
    if len(text) > 128:
        return None
    if text[:1] + text[-1:] in ("[]", "()"):
        text = text[1:-1].strip()
    match = _FOUR_NUMBERS.fullmatch(text)
    if match is None:
        return None
    return _finite_box(float(v) for v in match.groups())


def _finite_box(values) -> tuple[float, float, float, float] | None:
    box = tuple(values)
    # A long digit string overflows to inf; such a box cannot be meant.
    return box if len(box) == 4 and all(math.isfinite(v) for v in box) else None


def _json_box(text: str) -> tuple[float, float, float, float] | None:
    """The box of exactly one `{"bbox_2d": [4 numbers], "label": str}` object; else None.

    Several objects, a list of boxes under one key, a repeated key, another key or a box that
    is not four plain numbers all give None: one answer, one box.
    """
    if len(text) > MAX_JSON_BOX_CHARS:
        return None
    if text.startswith("```"):  # a fenced ```json block, as chat models often write
        text = re.sub(r"^```(?:json)?\s*|\s*```$", "", text)
    try:
        value = json.loads(text, object_pairs_hook=_unique_keys)
    except (ValueError, RecursionError):
        return None
    if isinstance(value, list) and len(value) == 1:
        value = value[0]
    if not isinstance(value, dict) or "bbox_2d" not in value or set(value) - _JSON_BOX_KEYS:
        return None
    box, label = value["bbox_2d"], value.get("label", "")
    if not isinstance(box, list) or not isinstance(label, str):
        return None
    if any(isinstance(v, bool) or not isinstance(v, (int, float)) for v in box):
        return None
    return _finite_box(float(v) for v in box)


def _unique_keys(pairs: list) -> dict:
    """json.loads hook: a repeated key (two boxes in one object) makes the answer invalid."""
    keys = [key for key, _ in pairs]
    if len(set(keys)) != len(keys):
        raise ValueError("repeated key")
    return dict(pairs)


def iou(a: tuple, b: tuple) -> float:
    """Intersection over union of two (x1, y1, x2, y2) boxes; 0 if either is degenerate."""
    if a[2] <= a[0] or a[3] <= a[1] or b[2] <= b[0] or b[3] <= b[1]:
        return 0.0
    width = min(a[2], b[2]) - max(a[0], b[0])
    height = min(a[3], b[3]) - max(a[1], b[1])
    inter = max(0.0, width) * max(0.0, height)
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def box_iou(answer_text: str, sample: dict) -> dict:
    """Detection, open tier: 1 if the one box has IoU > 0.5 with the gold; reports "iou"."""
    pred = parse_box(answer_text)
    gold = parse_box(str(sample.get("answer", "")))
    value = iou(pred, gold) if pred is not None and gold is not None else 0.0
    return {"accuracy": float(value > 0.5), "iou": value}


# The reference evaluator's reading of a box answer: the first bracketed list of four numbers
# anywhere in the text ("The box is [200, 150, 400, 300]." counts).
_ANY_BOX = re.compile(r"\[\s*" + r"\s*,\s*".join([_NUM] * 4) + r"\s*\]")


def box_iou_reference(answer_text: str, sample: dict) -> dict:
    """Detection as the Curr-ReFT reference scored it: IoU > 0.5 for the first list of four
    numbers found anywhere in the answer. Not the default (`box_iou` wants the answer to be one
    box); named so that a user can reproduce the paper's tables (`reftbench eval --box-metric
    box_iou_reference`)."""
    match = _ANY_BOX.search(answer_text[:4096])  # the scorer's own bound on an answer
    pred = _finite_box(float(v) for v in match.groups()) if match else None
    gold = parse_box(str(sample.get("answer", "")))
    value = iou(pred, gold) if pred is not None and gold is not None else 0.0
    return {"accuracy": float(value > 0.5), "iou": value}


# --------------------------------------------------------------------------- label_set_iou

_LABEL_SEPARATOR = re.compile(r",|\band\b", re.IGNORECASE)
_QUOTES = ("\"", "'")


def _label_set(text: str) -> set:
    """{"circle", "square"} from "Circle, square.", "circle and square", '["circle", "square"]'
    or "[circle, square]"; empty if too long or if a bracket is left inside (two lists)."""
    text = text.strip()
    if len(text) > 1024:
        return set()
    if text.endswith("."):
        text = text[:-1]
    if text[:1] + text[-1:] == "[]":  # one bracketed list, as a model writing JSON gives it
        text = text[1:-1]
    if any(char in text for char in "[]{}"):
        return set()
    labels = set()
    for part in _LABEL_SEPARATOR.split(text):
        part = part.strip()
        if len(part) >= 2 and part[0] == part[-1] and part[0] in _QUOTES:
            part = part[1:-1]
        labels.add(" ".join(part.split()).lower())
    labels.discard("")
    return labels


def label_set_iou(answer_text: str, sample: dict) -> dict:
    """Classification, open tier: |P & T| / |P | T|, so listing every class earns little.

    That partial credit is the training reward (as in the paper); "exact" (the predicted set
    equals the true one) is what the evaluator reports, since a constant answer listing the
    three commonest labels already earns about 28% set-IoU.
    """
    pred = _label_set(answer_text)
    gold = _label_set(str(sample.get("answer", "")))
    if not pred or not gold:
        return {"accuracy": 0.0, "exact": 0.0}
    return {"accuracy": len(pred & gold) / len(pred | gold), "exact": float(pred == gold)}


# ------------------------------------------------------------------------------ math_equiv

MATH_MAX_CHARS = 64
# math-verify's LaTeX parser is exponential in bracket nesting ({{{{{{{{{{12}}}}}}}}}} takes
# seconds); depth 4 and 16 brackets in all keep a parse well under a second and still allow
# \boxed{\frac{\sqrt{3}}{2}}.
MATH_MAX_DEPTH = 4
MATH_MAX_BRACKETS = 16
# LaTeX commands an answer may use; anything else (\binom, \sum, \int, ...) is rejected because
# sympy may evaluate it eagerly on huge numbers, and no short final answer needs it.
_MATH_COMMANDS = {"frac", "dfrac", "tfrac", "sqrt", "pi", "cdot", "times", "div", "circ",
                  "degree", "%", "left", "right", "boxed", "text", "mathrm"}
_MATH_SPACES = {",", ";", "!", " ", ":"}
_COMMAND = re.compile(r"\\([A-Za-z]+|.)")
_NUMBER = re.compile(r"\d+(?:\.\d+)?")
_OPERATOR = re.compile(r"[-+*/^(){}\[\]×÷·@,]")
# One power at most, with a small literal exponent: 9^{9^{9}} would make sympy build 9^387420489.
_POWER = re.compile(r"\^\s*(?:\{\s*[-+]?\d{1,3}\s*\}|[-+]?\d{1,3}|\{?\s*\\circ\s*\}?|[A-Za-z])")


def _brackets_ok(text: str) -> bool:
    depth = deepest = count = 0
    for char in text:
        depth += (char in "({[") - (char in ")}]")
        deepest = max(deepest, depth)
        count += char in "({[]})"
    return deepest <= MATH_MAX_DEPTH and count <= MATH_MAX_BRACKETS


def _numbers_are_separate(bare: str) -> bool:
    """True when two numbers stand side by side as alternatives ("12 or 13", "12 13", "1.2.3")."""
    numbers = list(_NUMBER.finditer(bare))
    for left, right in zip(numbers, numbers[1:]):
        gap = bare[left.end() : right.start()]
        if re.search(r"[A-Za-z]", gap) or not _OPERATOR.search(gap):
            return True
    return False


def _is_single_expression(text: str, gold: str) -> bool:
    """The guard run before math-verify: short, shallow, whitelisted LaTeX, one answer only."""
    if not text or len(text) > MATH_MAX_CHARS or "$" in text or not _brackets_ok(text):
        return False
    commands = _COMMAND.findall(text)
    if any(c not in _MATH_COMMANDS and c not in _MATH_SPACES for c in commands):
        return False
    if text.count("^") > 1 or len(_POWER.findall(text)) != text.count("^"):
        return False
    # Layout commands become spaces, the others an operator mark "@", so "2\sqrt{3}" stays one
    # expression while "12\,13" reads as two numbers.
    bare = _COMMAND.sub(lambda m: " " if m.group(1) in _MATH_SPACES else "@", text)
    if "!" in bare or "**" in bare or re.search(r"\b(?:or|and)\b", bare, re.IGNORECASE):
        return False
    # A comma is a list ("12, 13") unless the gold itself is a tuple or interval.
    if ("," in bare or ";" in bare) and "," not in gold:
        return False
    return not _numbers_are_separate(bare)


def math_equiv(answer_text: str, sample: dict) -> dict:
    """Math, open tier: 1 if math-verify finds the one short expression equal to the gold."""
    pred = answer_text.strip()
    if pred.startswith("$") and pred.endswith("$"):
        pred = pred.strip("$").strip()
    gold = str(sample.get("answer", "")).strip()
    if not gold or not _is_single_expression(pred, gold):
        return {"accuracy": 0.0}
    equal = equivalent(pred, gold)
    if equal is None:  # ran past the time limit: no credit, and counted in the results
        return {"accuracy": 0.0, "timed_out": 1.0}
    return {"accuracy": float(equal)}
