"""The schedules' rules, as pure functions of numbers (no model, no torch): tested on
synthetic reward streams in tests/test_schedules.py.

- bandit (Self-Evolving Curriculum, arXiv 2505.14970): each arm's value follows the mean absolute
  advantage of its groups by TD(0), Q <- Q + lr (r - Q); arms are drawn by a softmax over Q / T,
  mixed with a floor so that no arm's probability falls below it.
- plateau: a stage ends when the moving average of its accuracy reward rose by less than a gain
  over one window, or reached a mastery level, once it ran its minimum.
"""

from __future__ import annotations

import math


def softmax_with_floor(values: dict[str, float], temperature: float, floor: float,
                       bonus: dict[str, float] | None = None) -> dict[str, float]:
    """Arm -> probability: floor + (1 - K floor) softmax((Q + bonus) / T) (K arms), so every arm
    keeps at least `floor`; `bonus` adds a logit to some arms (the fixed order as a prior)."""
    arms = list(values)
    logits = [values[a] / temperature + (bonus or {}).get(a, 0.0) for a in arms]
    top = max(logits)
    weights = [math.exp(x - top) for x in logits]
    total = sum(weights)
    spare = 1.0 - floor * len(arms)
    return {a: floor + spare * w / total for a, w in zip(arms, weights)}


def td_update(values: dict[str, float], gains: dict[str, float], lr: float) -> dict[str, float]:
    """Every observed arm's value moved towards its latest gain; unobserved arms keep theirs."""
    return {a: q + lr * (gains[a] - q) if a in gains else q for a, q in values.items()}


def group_gain(rewards: list[float], scale: str = "group") -> tuple[bool, float]:
    """(spread, mean |advantage|) of one group's rewards, with GRPO's advantage r - mean,
    divided by the group's std + 1e-4 when `scale` is "group" (TRL's default). A group with
    no spread (every reward equal) has no advantage: GRPO learns nothing from it."""
    scored = [r for r in rewards if not math.isnan(r)]
    if len(scored) < 2:
        return False, 0.0
    mean = sum(scored) / len(scored)
    std = math.sqrt(sum((r - mean) ** 2 for r in scored) / (len(scored) - 1))
    spread = not math.isclose(std, 0.0, abs_tol=1e-8)
    divisor = std + 1e-4 if scale == "group" else 1.0
    return spread, sum(abs(r - mean) for r in scored) / len(scored) / divisor


def moving_average(values: list[float], window: int) -> list[float]:
    """Mean of each value and up to `window - 1` before it."""
    return [sum(values[max(0, i + 1 - window):i + 1]) / (i + 1 - max(0, i + 1 - window))
            for i in range(len(values))]


def plateau_reached(accuracies: list[float], window: int, min_gain: float, mastery: float,
                    min_batches: int) -> bool:
    """Whether a stage whose generation batches scored `accuracies` (in order) should end now:
    after `min_batches` (and two windows, so the gain compares two full averages), when the
    moving average reached `mastery` or rose by less than `min_gain` over the last window."""
    n = len(accuracies)
    if n < max(min_batches, 2 * window):
        return False
    average = moving_average(accuracies, window)
    return average[-1] >= mastery or average[-1] - average[-1 - window] < min_gain


def plateau_budget(lengths: list[int], ran: list[int]) -> int:
    """Steps the next stage may run: its own fixed length plus what the stages before it saved
    (`lengths` are every stage's fixed lengths, `ran` the steps the earlier stages ran)."""
    saved = sum(length - steps for length, steps in zip(lengths, ran))
    return lengths[len(ran)] + saved
