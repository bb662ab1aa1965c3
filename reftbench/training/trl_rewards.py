"""Adapters from `reftbench.scoring.rewards.score` to TRL's GRPOTrainer reward-function contract.

    from reftbench.training.trl_rewards import make_reward_funcs
    GRPOTrainer(..., reward_funcs=make_reward_funcs({"format": 1.0, "accuracy": 1.0}))

TRL calls each function as `f(prompts=..., completions=..., completion_ids=..., **columns)`,
where `columns` holds the dataset's other columns as lists (id, family, tier, answer, options,
metric, ...) plus a few trainer objects. Row i's sample is rebuilt from the columns and scored by
the one scorer, so the reward equals what the evaluator reports. Completions are plain strings
or conversational lists (`[{"role": "assistant", "content": "..."}]`).

Two functions, not one summed reward, so TRL logs format and accuracy as separate columns
(`rewards/format_reward`, `rewards/accuracy_reward`); a small cache keeps the completion from
being scored twice. A row without "answer" or "metric" returns None: TRL's "cannot judge".
"""

from reftbench.errors import UserError
from reftbench.scoring.rewards import ACCURACY_SCORES, DEFAULT_WEIGHTS, score

# Keyword arguments TRL passes that are not dataset columns.
_NOT_COLUMNS = {"trainer_state", "log_extra", "log_metric", "environments"}
# The fields scoring reads (reftbench/samples.py); they key the cache.
_SCORED_FIELDS = ("id", "answer", "metric", "options")
_CACHE_SIZE = 4096
_cache: dict = {}


def completion_text(completion) -> str:
    """The assistant's text from a string or a conversational completion."""
    if isinstance(completion, str):
        return completion
    if not isinstance(completion, (list, tuple)):
        return ""
    replies = [m for m in completion if isinstance(m, dict) and m.get("role") == "assistant"]
    content = replies[-1].get("content", "") if replies else ""
    if isinstance(content, list):  # multimodal content parts: keep the text ones
        parts = [p.get("text", "") for p in content if isinstance(p, dict) and p.get("type") == "text"]
        return "".join(parts)
    return content if isinstance(content, str) else ""


def row_sample(columns: dict, index: int, rows: int) -> dict:
    """Sample `index` rebuilt from TRL's column lists."""
    return {
        key: values[index]
        for key, values in columns.items()
        if key not in _NOT_COLUMNS and isinstance(values, (list, tuple)) and len(values) == rows
    }


def _scores(sample: dict, text: str) -> dict:
    """`score` with unit weights, cached: format_reward and accuracy_reward see the same rows."""
    key = (text, *(repr(sample.get(field)) for field in _SCORED_FIELDS))
    hit = _cache.get(key)
    if hit is None:
        if len(_cache) >= _CACHE_SIZE:  # bounded: one or two batches are all that can repeat
            _cache.clear()
        hit = _cache[key] = score(sample, text)
    return hit


class RewardColumn:
    """One weighted component of the score ("format" or "accuracy") as a TRL reward function.

    A class rather than a closure so the trainer can pickle it; `__name__` is what TRL logs.
    """

    def __init__(self, component: str, weight: float = 1.0, name: str | None = None):
        self.component = component
        self.weight = float(weight)
        self.__name__ = f"{name or component}_reward"

    def __call__(self, prompts=None, completions=None, completion_ids=None, **columns):
        completions = list(completions or [])
        rewards = []
        for index, completion in enumerate(completions):
            sample = row_sample(columns, index, len(completions))
            if sample.get("answer") is None or sample.get("metric") is None:
                rewards.append(None)
                continue
            rewards.append(self.weight * _scores(sample, completion_text(completion))[self.component])
        return rewards

    def __repr__(self):
        return f"RewardColumn({self.component!r}, weight={self.weight})"


format_reward = RewardColumn("format")
accuracy_reward = RewardColumn("accuracy")


def make_reward_funcs(weights: dict | None = None, accuracy: str = "accuracy") -> list:
    """[format_reward, accuracy_reward], each multiplied by its weight (default 1 and 1).

    `accuracy` picks the score behind accuracy_reward: "accuracy" (the metric's, e.g. set-IoU)
    or "strict" (the reported all-or-nothing score); TRL logs it as accuracy_reward either way.
    """
    unknown = set(weights or {}) - set(DEFAULT_WEIGHTS)
    if unknown:
        raise UserError(f"unknown reward weights {sorted(unknown)}: use {sorted(DEFAULT_WEIGHTS)}")
    if accuracy not in ACCURACY_SCORES:
        raise UserError(f"accuracy_reward must be one of {ACCURACY_SCORES}, got {accuracy!r}")
    weights = {**DEFAULT_WEIGHTS, **(weights or {})}
    return [RewardColumn("format", weights["format"]),
            RewardColumn(accuracy, weights["accuracy"], name="accuracy")]
