"""Chance levels of the detection open tier: what a model that ignores the image scores.

    python bench/box_chance.py [--limit 500] [--draws 20] [--no-append]

On the first `limit` open-tier questions of each detection test split (what `reftbench eval
--limit 500` scores), two image-blind answers: a box drawn at random from the other questions'
gold boxes (`draws` times each), and the single constant box, among those gold boxes, that
scores best on these questions (an oracle: it is chosen on the test set). A base model is
"better than chance" on boxes only when it beats both. Appends the table to results/PERF.md.
"""

import argparse
import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import report  # noqa: E402
from reftbench.data import load_split  # noqa: E402
from tasks.draw import box_iou  # noqa: E402


def hit_rate(box, golds) -> float:
    return sum(box_iou(box, g) > 0.5 for g in golds) / len(golds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=500)
    parser.add_argument("--draws", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-append", action="store_true")
    args = parser.parse_args()
    rows = []
    for split in ("id", "ood"):
        boxes = [r["box"] for r in load_split("detection", split, tiers=("open",))]
        golds, others = boxes[:args.limit], boxes[args.limit:]
        rng = random.Random(args.seed)
        drawn = sum(hit_rate(rng.choice(others), golds) for _ in range(args.draws)) / args.draws
        best = max(others, key=lambda box: hit_rate(box, golds))
        rows.append([split, len(golds), f"{100 * drawn:.1f}", f"{100 * hit_rate(best, golds):.1f}",
                     str(best)])
    report("Detection chance levels (open tier, IoU > 0.5, %)",
           ["split", "questions", "random gold box", "best constant box (oracle)", "that box"],
           rows, append=not args.no_append)


if __name__ == "__main__":
    main()
