"""Synthetic comparison lines: the text the base build's comparison phase trains on.

The judge and choice tiers need one skill past perception: comparing the fact the model
states with the proposal in the question ("Is it [45, 46, 72, 73]? It is [46, 20, 67, 41]."),
or finding the option that equals it. A tiny language model trained on the general mixture
never learns that (it is at chance even when handed the fact); trained on dense lines of
comparisons, each holding only a fact and a proposal, it does, after about 1,750 steps (the
measurements are in results/notebook/comparison-from-text.md). A line looks like

    Is it [3, 45, 12, 7]? It is [3, 45, 102, 7]. no
    circle, star (A) square, star (B) star (C) Which? It is circle, star (A

with facts in the three families' forms (boxes, numbers, shape lists). Used by
reftbench/base_build/compare_pretrain.py and experiments/text_compare_probe.py.
"""

from __future__ import annotations

import random

SHAPES = ("circle", "square", "triangle", "star", "hexagon", "diamond")
# The fact forms: a box (as detection states it), a count (math), a shape list (classification).
KINDS = ("box", "number", "shapes")


def draw_fact(rng: random.Random, kind: str) -> str:
    """A fact as the families state it: a box, a count, or a sorted shape list."""
    if kind == "box":
        return "[" + ", ".join(str(rng.randint(0, 111)) for _ in range(4)) + "]"
    if kind == "number":
        return str(rng.randint(0, 20))
    return ", ".join(sorted(rng.sample(SHAPES, rng.randint(1, 3))))


def other_fact(rng: random.Random, fact: str, kind: str) -> str:
    """A fact that is not `fact`: for a box, half the time the same box with one number moved."""
    if kind == "box" and rng.random() < 0.5:
        nums = fact.strip("[]").split(", ")
        i = rng.randrange(4)
        nums[i] = str((int(nums[i]) + rng.randint(1, 30)) % 112)
        return "[" + ", ".join(nums) + "]"
    other = draw_fact(rng, kind)
    while other == fact:
        other = draw_fact(rng, kind)
    return other


def same_length_fact(rng: random.Random, fact: str, kind: str, tries: int = 100) -> str:
    """A fact that is not `fact` but has as many characters, so comparing lengths cannot tell
    them apart; any other fact if none turns up in `tries` draws (e.g. "star" has no other
    four-letter shape)."""
    other = other_fact(rng, fact, kind)
    for _ in range(tries):
        if len(other) == len(fact):
            return other
        other = other_fact(rng, fact, kind)
    return other


def draw_line(rng: random.Random, order: str = "fact-first", letters: str = "before",
              kinds: tuple[str, ...] = KINDS,
              negatives: str = "any") -> tuple[str, str, str]:
    """(prompt, verdict, tier) of one comparison; judge answers are yes half the time.

    order "fact-first" states the fact before the proposal or options; "task" puts it after
    them, where the tasks have it (the question holds the proposal, the model's completion
    states the fact). letters "before" lists options as "A. x", "after" as "x (A)", and "echo"
    as "x (A)" with the fact restated the same way, "It is x (", before the letter. `kinds`
    are the fact forms drawn from (KINDS: box, number, shapes). negatives "same-length" draws
    wrong proposals and options as long as the fact (same_length_fact)."""
    wrong = same_length_fact if negatives == "same-length" else other_fact
    kind = rng.choice(kinds)
    fact = draw_fact(rng, kind)
    if rng.random() < 0.5:
        same = rng.random() < 0.5
        proposal = fact if same else wrong(rng, fact, kind)
        ask = f"Is it {proposal}?"
        prompt = f"It is {fact}. {ask}" if order == "fact-first" else f"{ask} It is {fact}."
        return prompt, "yes" if same else "no", "judge"
    options = [fact]
    while len(options) < 5:
        candidate = wrong(rng, fact, kind)
        if candidate not in options:
            options.append(candidate)
    rng.shuffle(options)
    if letters == "before":
        listed = " ".join(f"{letter}. {o}" for letter, o in zip("ABCDE", options))
    else:
        listed = " ".join(f"{o} ({letter})" for letter, o in zip("ABCDE", options))
    # "echo": the fact is restated as its option is listed, "x (", so the letter that follows
    # it can be copied from the list (what an induction head does) rather than looked up.
    end = " (" if letters == "echo" else "."
    prompt = (f"It is {fact}{end} {listed} Which?" if order == "fact-first"
              else f"{listed} Which? It is {fact}{end}")
    return prompt, "ABCDE"[options.index(fact)], "choice"


def spoken(prompt: str, verdict: str) -> str:
    """The verdict as written after its prompt: " yes", " B", or "B" straight after an echoed
    "(", the token that follows "(" in the option list."""
    return verdict if prompt.endswith("(") else f" {verdict}"


def kind_of(prompt: str) -> str:
    """The fact form a line compares: box, shapes or number."""
    if "[" in prompt:
        return "box"
    return "shapes" if any(shape in prompt for shape in SHAPES) else "number"


def held_out_lines(seed: int, per_tier: int, layout: dict) -> list[tuple[str, str, str]]:
    """`per_tier` judge and `per_tier` choice lines from their own stream (training draws
    from seed + 1), for scoring."""
    rng = random.Random(10_000 + seed)
    lines: list = []
    for tier in ("judge", "choice"):
        while sum(1 for line in lines if line[2] == tier) < per_tier:
            line = draw_line(rng, **layout)
            if line[2] == tier:
                lines.append(line)
    return lines
