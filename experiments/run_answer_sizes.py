"""How many shapes a finished run's classification answers name: read from its saved samples.

`reftbench eval` and `reftbench compare` keep each question's answer in the run's samples.jsonl
(git-ignored, so this reads runs made on this machine). For every run, the in-domain
classification open answers that name 1, 2 and 3 or more shapes, beside the gold sets.

    python experiments/run_answer_sizes.py results/runs/compare-base results/runs/grpo-seed0-*
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from experiments.answer_shapes import shapes_named  # noqa: E402
from bench.common import output_options, report  # noqa: E402


def sizes(run: Path, split: str) -> tuple[Counter, Counter]:
    """(answers, gold sets) of `run`'s classification open questions on `split`, by size."""
    answers, gold = Counter(), Counter()
    with open(run / "samples.jsonl") as fh:
        for line in fh:
            row = json.loads(line)
            if (row["family"], row["split"], row["tier"]) == ("classification", split, "open"):
                answers[min(3, shapes_named(row["answer"]))] += 1
                gold[min(3, shapes_named(row["gold"]))] += 1
    return answers, gold


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("runs", nargs="+", type=Path, help="run folders with samples.jsonl")
    parser.add_argument("--split", default="id")
    output_options(parser, notebook="rl-reward")
    args = parser.parse_args()
    rows, gold = [], None
    for run in args.runs:
        if not (run / "samples.jsonl").is_file():
            raise SystemExit(f"{run}: no samples.jsonl (a run made on another machine?)")
        answers, gold = sizes(run, args.split)
        rows.append([run.name, *(answers[k] for k in (0, 1, 2, 3)), sum(answers.values())])
    rows.append(["gold", *(gold[k] for k in (0, 1, 2, 3)), sum(gold.values())])
    report(f"Shapes named per classification answer ({args.split})",
           ["run", "none", "1", "2", "3+", "answers"], rows,
           notes=["counted from each run's samples.jsonl, open tier"],
           append=not args.no_append,
           notebook=args.notebook)


if __name__ == "__main__":
    main()
