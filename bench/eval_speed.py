"""Evaluation throughput: samples per second at batch size 1 against the default batch size.

    python bench/eval_speed.py [--models random-micro,base] [--limit 100] [--batch-size 32]
                               [--no-append]

For each model, evaluates the first `limit` open-tier samples of every family's id and ood test
split (6 x limit samples) with the transformers backend, greedy, at batch size 1 and at the
default batch size, and prints samples/s and the speed-up. Scores must not change with the
batch size (the script checks, and exits 1 if they do). Replaces its section of
results/PERF.md.
"""

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import output_options, report  # noqa: E402
from reftbench.evaluation.evaluate import EvalConfig, evaluate, make_backend  # noqa: E402


def run(model: str, batch_size: int, limit: int, results: Path) -> tuple[float, dict]:
    cfg = EvalConfig(model=model, batch_size=batch_size, limit=limit, run_id=f"{model}-b{batch_size}")
    backend = make_backend(cfg)
    start = time.perf_counter()
    res = evaluate(cfg, results, backend=backend)
    seconds = time.perf_counter() - start
    n = sum(m["n"] for m in res["metrics"].values())
    return n / seconds, {k: m["accuracy"] for k, m in res["metrics"].items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="random-micro,base")
    parser.add_argument("--limit", type=int, default=100, help="samples per family x split")
    parser.add_argument("--batch-size", type=int, default=32)
    output_options(parser)
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for model in args.models.split(","):
            one, scores_one = run(model, 1, args.limit, Path(tmp) / "b1")
            many, scores_many = run(model, args.batch_size, args.limit, Path(tmp) / "bN")
            rows.append([model, 6 * args.limit, round(one, 1), round(many, 1),
                         f"{many / one:.1f}x", "yes" if scores_one == scores_many else "NO"])
            print(rows[-1], flush=True)
    summary = "; ".join(f"batch {args.batch_size} gives {row[4]} the samples/s of batch 1 "
                        f"({row[0]})" for row in rows)
    report("Evaluation samples/s by batch size (greedy, open tier, transformers backend)",
           ["model", "samples", "batch 1 (samples/s)", f"batch {args.batch_size} (samples/s)",
            "speed-up", "same scores"], rows,
           [f"{args.limit} open-tier samples per family x split, greedy"], summary=summary,
           append=not args.no_append)
    if any(row[-1] != "yes" for row in rows):
        sys.exit(1)


if __name__ == "__main__":
    main()
