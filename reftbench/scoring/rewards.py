"""The one strict scorer: the reward every trainer optimises and the metric the evaluator reports.

    from reftbench.scoring.rewards import score
    score(sample, "<think>two red circles</think><answer>B</answer>")
    # {"format": 1.0, "accuracy": 1.0, "reward": 2.0, "answer": "B"}

Because training (through `reftbench.training.trl_rewards`) and evaluation call the same `score`, they can
never disagree about what counts as correct.

- format: 1.0 when the completion, less surrounding whitespace, is exactly
  `<think>...</think><answer>...</answer>` (only whitespace between the blocks, each of the four
  tags exactly once, lowercase as written), else 0.0.
- accuracy: read from exactly one `<answer>...</answer>` block anywhere in the completion (with or
  without the think block); no block, two blocks, or more than MAX_ANSWER_CHARS inside gives 0.
  The sample's "metric" picks the function: a name in METRICS or one a plugin registered
  (`registered_metrics`); a data row can never name arbitrary code.
- reward: weights["format"] * format + weights["accuracy"] * accuracy (both weights 1 by default).
- strict: what the evaluator reports: the metric's all-or-nothing "exact" where it gives one
  (label sets: the exact set, while set-IoU stays the reward), else the accuracy.

`score` never raises because of the completion and runs in bounded time on any text: tags are
found with `str.count`/`str.index` (linear, no regex on the whole completion) and each metric
checks the answer's length before parsing it. A sample whose metric cannot be found is a data
error and raises UserError, so a misconfigured run stops instead of training on zero reward.
"""

import importlib
import math
from functools import lru_cache
from importlib.metadata import entry_points

from reftbench.errors import UserError

# Short metric names -> "module:function", imported on first use so that listing them (or scoring
# a yes/no sample) never imports math-verify and sympy.
METRICS = {
    "yes_no": "reftbench.scoring.metrics:yes_no",
    "letters": "reftbench.scoring.metrics:letters",
    "box_iou": "reftbench.scoring.metrics:box_iou",
    # Not used by any task by default: the reference's lenient box reading (eval --box-metric).
    "box_iou_reference": "reftbench.scoring.metrics:box_iou_reference",
    "label_set_iou": "reftbench.scoring.metrics:label_set_iou",
    "math_equiv": "reftbench.scoring.metrics:math_equiv",
}
DEFAULT_WEIGHTS = {"format": 1.0, "accuracy": 1.0}
# The scores a GRPO accuracy reward may be (`accuracy_reward`): the metric's own, or "strict".
ACCURACY_SCORES = ("accuracy", "strict")
# Far above any honest answer (a 256-token completion is about 1k characters); longer text inside
# <answer> is treated as no answer rather than handed to a parser.
MAX_ANSWER_CHARS = 4096

THINK_OPEN, THINK_CLOSE = "<think>", "</think>"
ANSWER_OPEN, ANSWER_CLOSE = "<answer>", "</answer>"
_TAGS = (THINK_OPEN, THINK_CLOSE, ANSWER_OPEN, ANSWER_CLOSE)


def format_ok(completion: str) -> bool:
    """True when the completion is exactly one think block then one answer block."""
    text = completion.strip()
    if any(text.count(tag) != 1 for tag in _TAGS):
        return False
    if not (text.startswith(THINK_OPEN) and text.endswith(ANSWER_CLOSE)):
        return False
    think_end, answer_start = text.index(THINK_CLOSE), text.index(ANSWER_OPEN)
    between = text[think_end + len(THINK_CLOSE) : answer_start]
    return think_end < answer_start and not between.strip()


def extract_answer(completion: str) -> str | None:
    """The text inside the one <answer>...</answer> block; None unless there is exactly one."""
    if completion.count(ANSWER_OPEN) != 1 or completion.count(ANSWER_CLOSE) != 1:
        return None
    start = completion.index(ANSWER_OPEN) + len(ANSWER_OPEN)
    end = completion.index(ANSWER_CLOSE)
    if end < start or end - start > MAX_ANSWER_CHARS:
        return None
    return completion[start:end]


def registered_metrics() -> dict:
    """Every metric a sample may name: the built-ins, then installed plugins.

    A package adds a metric through the `reftbench.scoring.metrics` entry-point group
    (`name = "package.module:function"`), as trainers join theirs: installing code is the
    user's choice, while a data row is not code and may only name a registered metric.
    """
    found = dict(METRICS)
    for ep in entry_points(group="reftbench.scoring.metrics"):
        found.setdefault(ep.name, ep.value)
    return found


@lru_cache(maxsize=None)
def resolve_metric(name: str):
    """The accuracy function registered under `name` (see `registered_metrics`).

    Only registered names resolve: a "module:function" string in a data row would otherwise
    import and call any function (`builtins:eval` ran a shell command from a data folder).
    """
    table = registered_metrics()
    if name not in table:
        raise UserError(f"unknown metric {name!r}: a sample may name only a registered metric "
                        f"({', '.join(table)}); a new one joins through the 'reftbench.scoring.metrics' "
                        "entry-point group")
    target = table[name]
    if callable(target):
        return target
    module_name, _, attr = target.partition(":")
    function = getattr(importlib.import_module(module_name), attr, None)
    if not callable(function):
        raise UserError(f"metric {name!r} points at {target!r}, which is not a function")
    return function


def _accuracy(metric, answer: str | None, sample: dict) -> dict:
    """Run the metric; with no answer it still runs on "" so its extra keys ("iou") exist."""
    try:
        result = dict(metric(answer or "", sample))
        accuracy = float(result.get("accuracy", 0.0))
    except Exception:  # a third-party metric failing on odd text must not stop a training run
        result, accuracy = {}, 0.0
    if answer is None or not math.isfinite(accuracy):
        accuracy = 0.0
    result["accuracy"] = min(1.0, max(0.0, accuracy))
    return result


def _strict(exact, answered: bool, accuracy: float) -> float:
    """The reported all-or-nothing score, in [0, 1] (a metric's odd "exact" falls back)."""
    try:
        value = float(exact)
    except (TypeError, ValueError):
        value = accuracy
    return min(1.0, max(0.0, value)) if answered and math.isfinite(value) else 0.0


def score(sample: dict, completion: str, weights: dict | None = None) -> dict:
    """Score one completion: {"format", "accuracy", "reward", "answer", **metric extras}."""
    name = sample.get("metric")
    if not isinstance(name, str) or not name:
        raise UserError(
            f"sample {sample.get('id')!r} has no 'metric': add one (see reftbench/samples.py)"
        )
    metric = resolve_metric(name)
    text = completion if isinstance(completion, str) else ""
    weights = {**DEFAULT_WEIGHTS, **(weights or {})}
    answer = extract_answer(text)
    result = _accuracy(metric, answer, sample)
    fmt = 1.0 if format_ok(text) else 0.0
    accuracy = result.pop("accuracy")
    reward = weights["format"] * fmt + weights["accuracy"] * accuracy
    scores = {"format": fmt, "accuracy": accuracy, "reward": reward, "answer": answer,
              "strict": _strict(result.pop("exact", accuracy), answer is not None, accuracy)}
    # A metric's extra keys ("iou") never overwrite the four keys every caller relies on.
    return {**scores, **{key: value for key, value in result.items() if key not in scores}}
