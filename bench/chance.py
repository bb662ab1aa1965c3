"""Chance levels of the open tier, per family and split: what an image-blind model scores.

    python bench/chance.py [--limit 500] [--draws 20] [--families detection,classification,math]
                           [--results-dir results]

On the first `limit` open-tier questions of each test split (what `reftbench eval --limit 500`
scores), two answers that ignore the image, scored by `reftbench.rewards.score` (the scorer the
evaluator uses): an answer drawn at random from the split's other questions' gold answers
(`draws` times each), and the single constant answer, among those, that scores best on these
questions (an oracle: it is chosen on the test set). A model is better than chance on a family
only when it beats both. Appends the table to results/PERF.md (`--no-append` only prints);
with `--results-dir`, also writes both as leaderboard rows ("chance: random answer", "chance:
best constant") in that folder's runs/, so `reftbench leaderboard` shows them beside the models.
"""

import argparse
import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import report  # noqa: E402
from reftbench import fileio, provenance  # noqa: E402
from reftbench.data import load_split  # noqa: E402
from reftbench.rewards import score  # noqa: E402


def mean_accuracy(answer: str, questions: list[dict]) -> float:
    """Mean accuracy of one answer given to every question."""
    completion = f"<think>a guess</think><answer>{answer}</answer>"
    return sum(score(q, completion)["accuracy"] for q in questions) / len(questions)


def chance_levels(family: str, split: str, limit: int, draws: int, seed: int) -> dict:
    records = load_split(family, split, tiers=("open",))
    questions, others = records[:limit], records[limit:]
    if not others:
        sys.exit(f"error: {family}/{split} has no questions beyond --limit {limit} to draw from")
    rng = random.Random(seed)
    drawn = sum(mean_accuracy(rng.choice(others)["answer"], questions)
                for _ in range(draws)) / draws
    candidates = sorted({r["answer"] for r in others})
    best = max(candidates, key=lambda answer: mean_accuracy(answer, questions))
    return {"family": family, "split": split, "n": len(questions), "random": drawn,
            "constant": mean_accuracy(best, questions), "answer": best}


def write_runs(levels: list[dict], results_dir: Path, args) -> None:
    """The two image-blind answerers as leaderboard runs (results.json in the evaluator's shape)."""
    for key, label in (("random", "chance: random answer"), ("constant", "chance: best constant")):
        metrics = {f"{c['family']}/{c['split']}/open": {"n": c["n"], "accuracy": c[key]}
                   for c in levels}
        run_id = f"chance-{key}"
        fileio.write_json(results_dir / "runs" / run_id / "results.json", {
            "label": label, "run_id": run_id, "metrics": metrics,
            "config": {"made_by": "bench/chance.py", "limit": args.limit, "draws": args.draws,
                       "seed": args.seed,
                       "answers": {f"{c['family']}/{c['split']}": c["answer"] for c in levels}},
            "provenance": provenance.describe()})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=500)
    parser.add_argument("--draws", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--families", default="detection,classification,math")
    parser.add_argument("--no-append", action="store_true")
    parser.add_argument("--results-dir", type=Path, help="also write leaderboard rows here")
    args = parser.parse_args()
    levels = [chance_levels(family, split, args.limit, args.draws, args.seed)
              for family in args.families.split(",") for split in ("id", "ood")]
    if args.results_dir:
        write_runs(levels, args.results_dir, args)
    rows = [[c["family"], c["split"], str(c["n"]), f"{100 * c['random']:.1f}",
             f"{100 * c['constant']:.1f}", c["answer"]] for c in levels]
    report("Open-tier chance levels (strict accuracy, %)",
           ["family", "split", "questions", "random gold answer", "best constant answer (oracle)",
            "that answer"], rows, append=not args.no_append)


if __name__ == "__main__":
    main()
