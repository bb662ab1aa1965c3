"""`reftbench chance`: what an image-blind answerer scores on the open tier, per family and split.

    reftbench chance [--limit 500] [--draws 20] [--results-dir results]

On the first `limit` open-tier questions of each test split (what `reftbench eval --limit 500`
scores), two answers that ignore the image, scored strictly by `reftbench.scoring.rewards.score` (the
scorer the evaluator uses): an answer drawn at random from the split's other questions' gold
answers (`draws` times each), and the single constant answer, among those, that scores best on
these questions (an oracle: it is chosen on the test set). A model is better than chance on a
family only when it beats both. Both are written as leaderboard rows ("chance: random answer",
"chance: best constant") in the results folder's runs/, so `reftbench leaderboard` shows them
beside the models.
"""

from __future__ import annotations

import random
from pathlib import Path

from reftbench import fileio, provenance
from reftbench.data.generated import load_split
from reftbench.errors import UserError
from reftbench.scoring.rewards import score


def mean_accuracy(answer: str, questions: list[dict]) -> float:
    """Mean strict accuracy of one answer given to every question."""
    completion = f"<think>a guess</think><answer>{answer}</answer>"
    return sum(score(q, completion)["strict"] for q in questions) / len(questions)


def chance_levels(family: str, split: str, limit: int, draws: int, seed: int,
                  n_test: int | None = None) -> dict:
    """Both image-blind scores of one family and split, and the best constant answer."""
    records = load_split(family, split, n=n_test, seed=seed, tiers=("open",))
    questions, others = records[:limit], records[limit:]
    if not others:
        raise UserError(f"{family}/{split} has no questions beyond --limit {limit} to draw from")
    rng = random.Random(seed)
    drawn = sum(mean_accuracy(rng.choice(others)["answer"], questions)
                for _ in range(draws)) / draws
    candidates = sorted({r["answer"] for r in others})
    best = max(candidates, key=lambda answer: mean_accuracy(answer, questions))
    return {"family": family, "split": split, "n": len(questions), "random": drawn,
            "constant": mean_accuracy(best, questions), "answer": best}


def write_runs(levels: list[dict], results_dir: Path, limit: int, draws: int, seed: int) -> None:
    """The two image-blind answerers as leaderboard runs (results.json in the evaluator's shape)."""
    for key, label in (("random", "chance: random answer"), ("constant", "chance: best constant")):
        metrics = {f"{c['family']}/{c['split']}/open": {"n": c["n"], "strict": c[key]}
                   for c in levels}
        run_id = f"chance-{key}"
        fileio.write_json(Path(results_dir) / "runs" / run_id / "results.json", {
            "label": label, "run_id": run_id, "metrics": metrics,
            "config": {"made_by": "reftbench chance", "limit": limit, "draws": draws,
                       "seed": seed,
                       "answers": {f"{c['family']}/{c['split']}": c["answer"] for c in levels}},
            "provenance": provenance.describe()})
