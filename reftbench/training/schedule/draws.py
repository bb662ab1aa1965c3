"""Which training rows each generation batch (a "chunk") holds, decided from the rewards seen.

    draws = Draws(row_arms, DrawSettings(mode="bandit", prompts=8, seed=0, ...))
    rows = draws.draw(0)                 # the sampler asks for chunk 0, 1, 2, ... in order
    draws.observe(0, groups)             # the trainer reports chunk 0's groups once scored
    state = draws.state_dict()           # saved with each checkpoint; load_state() replays it

Modes: "observe" (TRL's own sampler draws: the fixed schedule; only the groups are counted),
"pool" (the stage's rows in the order TRL's RepeatSampler gives them: a seeded permutation per
pass over the data, a pass's incomplete last chunk dropped) and "bandit" (each prompt slot picks
an arm by the bandit's probabilities, then that arm's next row in its own seeded permutation).
With `skip`, a row whose groups had no reward spread z times is taken with probability
keep ** z, else passed over until the next pass: the data are reordered, nothing regenerated.

Exactness: chunk k depends only on the seed, k and the observations of chunks before k - 1.
TRL's dataloader asks for chunk k while chunk k - 1 is being generated (accelerate prefetches a
batch), so chunk k - 2 is the latest whose rewards are surely known; a draw that finds them
missing raises instead of silently depending on timing. So a resumed run (which replays draws
0..N-1 from the saved observations) and every process of a distributed job (which all receive
the same observations) draw the same rows as one uninterrupted process.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass
from typing import Callable

from reftbench.training.schedule.policy import softmax_with_floor, td_update

# Chunk k is drawn from the observations of chunks < k - LAG + 1 (see the module docstring).
LAG = 2
MODES = ("observe", "pool", "bandit")


@dataclass
class DrawSettings:
    """How chunks are drawn (ScheduleFields in reftbench/training/config.py documents each)."""

    # "observe", "pool" or "bandit" (see the module docstring).
    mode: str
    # Distinct prompts per chunk (all processes together).
    prompts: int
    # Seed of every random choice (each chunk has its own stream).
    seed: int = 0
    # bandit: softmax temperature, exploration floor, TD(0) step size, prior logit bonus.
    temperature: float = 0.1
    floor: float = 0.02
    lr: float = 0.3
    prior: float = 0.0
    # Pass over rows whose groups had no spread, keeping each with probability keep ** count.
    skip: bool = False
    keep: float = 0.2


class _Walk:
    """A cursor through passes over some rows, pass e in the order `order(e)`."""

    def __init__(self, order: Callable[[int], list[int]]):
        self.order, self.epoch, self.pos = order, 0, 0
        self.rows = order(0)

    def remaining(self) -> int:
        return len(self.rows) - self.pos

    def next_pass(self) -> None:
        self.epoch, self.pos = self.epoch + 1, 0
        self.rows = self.order(self.epoch)

    def take(self) -> int:
        if self.pos >= len(self.rows):
            self.next_pass()
        self.pos += 1
        return self.rows[self.pos - 1]


def shuffled(rows: list[int], key: str) -> list[int]:
    """`rows` in a seeded random order (the same on every machine: str seeds hash by sha512)."""
    out = list(rows)
    random.Random(key).shuffle(out)
    return out


class Draws:
    """The chunks of one GRPO stage: drawn on request, observed as their rewards arrive."""

    def __init__(self, row_arms: list[str], settings: DrawSettings,
                 pool_order: Callable[[int], list[int]] | None = None,
                 favoured: Callable[[int], set[str]] | None = None,
                 arms: list[str] | None = None):
        if settings.mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {settings.mode!r}")
        self.row_arms, self.settings = list(row_arms), settings
        # The arms in the order given (the curriculum's), else as their rows first appear.
        self.arms = list(arms or dict.fromkeys(self.row_arms))
        self.pool_order = pool_order or (
            lambda e: shuffled(range(len(self.row_arms)), f"{settings.seed}:pass:{e}"))
        # bandit: chunk -> the arms the prior favours (the fixed schedule's tier then).
        self.favoured = favoured or (lambda k: set())
        self.reset()

    def reset(self) -> None:
        """Back to before chunk 0."""
        # Per chunk, its groups: [row (-1 in "observe" mode), arm, spread 0/1, mean |advantage|,
        # mean accuracy reward].
        self.observations: list[list[list]] = []
        self.drawn: list[list[int]] = []
        # bandit: the arm probabilities each chunk was drawn with.
        self.probs: list[dict[str, float]] = []
        self.passed_over = 0
        self._values, self._values_upto = {a: 0.0 for a in self.arms}, 0
        self._zero, self._zero_upto = Counter(), 0
        self._pool = _Walk(self.pool_order) if self.settings.mode == "pool" else None
        self._walks = {arm: _Walk(lambda e, arm=arm: shuffled(
            [i for i, a in enumerate(self.row_arms) if a == arm],
            f"{self.settings.seed}:{arm}:{e}")) for arm in self.arms} \
            if self.settings.mode == "bandit" else {}

    # -- what the observations say, up to a chunk --------------------------------------------
    def values(self, upto: int) -> dict[str, float]:
        """Each arm's value after the TD(0) updates of chunks < upto (in order)."""
        if upto < self._values_upto:  # asked about the past: start again from zero
            self._values, self._values_upto = {a: 0.0 for a in self.arms}, 0
        for groups in self.observations[self._values_upto:upto]:
            gains: dict[str, list[float]] = {}
            for _, arm, _, gain, _ in groups:
                gains.setdefault(arm, []).append(gain)
            self._values = td_update(self._values, {a: sum(g) / len(g) for a, g in gains.items()},
                                     self.settings.lr)
        self._values_upto = min(upto, len(self.observations))
        return dict(self._values)

    def zero_counts(self, upto: int) -> Counter:
        """Row -> its groups with no reward spread among chunks < upto."""
        if upto < self._zero_upto:
            self._zero, self._zero_upto = Counter(), 0
        for groups in self.observations[self._zero_upto:upto]:
            self._zero.update(row for row, _, spread, _, _ in groups if not spread and row >= 0)
        self._zero_upto = min(upto, len(self.observations))
        return self._zero

    def arm_probs(self, k: int) -> dict[str, float]:
        """The bandit's arm probabilities for chunk k."""
        s = self.settings
        bonus = {a: s.prior for a in self.favoured(k) if a in self._values}
        return softmax_with_floor(self.values(max(0, k - LAG + 1)), s.temperature, s.floor, bonus)

    # -- drawing and observing ---------------------------------------------------------------
    def draw(self, k: int) -> list[int]:
        """Chunk k's rows (distinct prompts; the sampler repeats each for its group)."""
        if k < len(self.drawn):
            return self.drawn[k]
        if self.settings.mode == "observe":
            raise RuntimeError("an observe-only schedule draws nothing (TRL's sampler does)")
        if k != len(self.drawn):
            raise RuntimeError(f"chunk {k} asked for before chunk {len(self.drawn)}")
        upto = max(0, k - LAG + 1)
        if len(self.observations) < upto:
            raise RuntimeError(f"chunk {k} drawn before the rewards of chunk {upto - 1} were "
                               "seen: the dataloader ran further ahead than the schedule allows")
        rng, zero = random.Random(f"{self.settings.seed}:draw:{k}"), self.zero_counts(upto)
        n = self.settings.prompts
        if self.settings.mode == "pool":
            if self._pool.remaining() < n <= len(self.row_arms):
                self._pool.next_pass()  # as RepeatSampler: a pass's incomplete chunk is dropped
            rows = [self._accept(self._pool, rng, zero) for _ in range(n)]
        else:
            probs = self.arm_probs(k)
            self.probs.append(probs)
            arms = rng.choices(self.arms, weights=[probs[a] for a in self.arms], k=n)
            rows = [self._accept(self._walks[a], rng, zero) for a in arms]
        self.drawn.append(rows)
        return rows

    def _accept(self, walk: _Walk, rng: random.Random, zero: Counter) -> int:
        """The walk's next row that the skip rule keeps (after two passes, whatever comes)."""
        limit = 2 * max(len(walk.rows), 1)
        for tries in range(limit + 1):
            row = walk.take()
            count = zero.get(row, 0) if self.settings.skip else 0
            if not count or tries == limit or rng.random() < self.settings.keep ** count:
                return row
            self.passed_over += 1
        raise AssertionError("unreachable")

    def observe(self, k: int, groups: list[list]) -> None:
        """Chunk k's groups, scored: [row, arm, spread, mean |advantage|, accuracy] each."""
        if k != len(self.observations):
            raise RuntimeError(f"chunk {k} observed, chunk {len(self.observations)} expected")
        self.observations.append([list(g) for g in groups])

    # -- checkpoints -------------------------------------------------------------------------
    def state_dict(self) -> dict:
        """What a checkpoint saves: the observations (the draws replay from them) and the draws
        made so far (to check the replay)."""
        return {"observations": self.observations, "drawn": self.drawn}

    def load_state(self, state: dict) -> None:
        """Restore a checkpoint's state: its observations, and the draws replayed from them."""
        self.reset()
        for k, groups in enumerate(state["observations"]):
            self.observe(k, groups)
        if self.settings.mode != "observe":
            for k in range(len(self.observations)):
                self.draw(k)
            saved = [list(rows) for rows in state.get("drawn", [])][:len(self.drawn)]
            if saved != self.drawn[:len(saved)]:
                raise RuntimeError("the saved schedule does not replay to the same draws "
                                   "(were the data or the settings changed?)")
