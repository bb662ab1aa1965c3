"""Building blocks for the three curriculum tiers, shared by every family's `make_tiers`.

The same scene is asked three ways (Curr-ReFT's curriculum): judge (yes/no about a proposed
answer), choice (lettered options A-E) and open (the free answer). Families supply the content
(what a plausible wrong answer looks like); these helpers fix the wording and the answer format,
so all families render options and letters identically.

    judge_tier("Is the answer 4?", yes=True)
    choice_tier("How many shapes are there?", ["3", "4", "5", "6", "2"], correct=[1])
"""

import random

from reftbench.samples import LETTERS

CHOICE_ONE = "Answer with the letter of the correct option."
CHOICE_ALL = ("Select all that apply: answer with every correct letter, "
              "separated by commas (e.g. A,C).")


def judge_tier(question: str, yes: bool) -> dict:
    """A yes/no record body."""
    return {"question": question, "answer": "yes" if yes else "no", "metric": "yes_no"}


def choice_tier(stem: str, options: list[str], correct: list[int], many: bool = False) -> dict:
    """A lettered multiple-choice record body; `correct` are indices into `options`.

    `many` says several letters may be right (classification): the question then says so,
    since a model cannot guess that from the options alone.
    """
    lines = [f"{LETTERS[i]}. {text}" for i, text in enumerate(options)]
    instruction = CHOICE_ALL if many else CHOICE_ONE
    question = "\n".join([stem, *lines, instruction])
    answer = ",".join(sorted(LETTERS[i] for i in correct))
    return {"question": question, "answer": answer, "options": list(options), "metric": "letters"}


def open_tier(question: str, answer: str, metric: str) -> dict:
    """The free-answer record body."""
    return {"question": question, "answer": answer, "metric": metric}


def shuffled_with(rng: random.Random, correct: str,
                  distractors: list[str]) -> tuple[list[str], int]:
    """The correct option and its distractors in random order, and where the correct one went."""
    options = [correct, *distractors]
    rng.shuffle(options)
    return options, options.index(correct)


def near_numbers(rng: random.Random, value: int, count: int) -> list[int]:
    """`count` distinct non-negative integers next to `value` (never `value`): plausible slips.

    Together with `value` they form a run of consecutive numbers in which `value` sits at a
    random place, so "pick the middle option" is no shortcut.
    """
    low = max(0, value - rng.randint(0, count))
    return [v for v in range(low, low + count + 1) if v != value]


def off_by_small(rng: random.Random, value: int) -> int:
    """A wrong answer one or two away from `value`, never negative."""
    wrong = value + rng.choice((-2, -1, 1, 2))
    return wrong if wrong >= 0 else value + rng.choice((1, 2))
