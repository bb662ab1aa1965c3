"""Evaluation throughput: samples per second at batch size 1 against the default batch size.

    python bench/eval_speed.py [--models random-micro,random-tiny] [--limit 100] [--batch-size 32]

For each model, evaluates the first `limit` open-tier samples of every family's id and ood test
split (6 x limit samples) with the transformers backend, greedy, at batch size 1 and at the
default batch size, and prints samples/s and the speed-up. Scores must not change with the
batch size (the script checks). Appends the table, the machine and the commit to
results/eval_throughput.md.
"""

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from reftbench import provenance  # noqa: E402
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
    parser.add_argument("--models", default="random-micro,random-tiny")
    parser.add_argument("--limit", type=int, default=100, help="samples per family x split")
    parser.add_argument("--batch-size", type=int, default=32)
    args = parser.parse_args()
    lines = ["| model | samples | batch 1 (samples/s) | batch %d (samples/s) | speed-up | same scores |"
             % args.batch_size, "|---|---|---|---|---|---|"]
    with tempfile.TemporaryDirectory() as tmp:
        for model in args.models.split(","):
            one, scores_one = run(model, 1, args.limit, Path(tmp) / "b1")
            many, scores_many = run(model, args.batch_size, args.limit, Path(tmp) / "bN")
            same = scores_one == scores_many
            lines.append(f"| {model} | {6 * args.limit} | {one:.1f} | {many:.1f} | "
                         f"{many / one:.1f}x | {'yes' if same else 'NO'} |")
            print(lines[-1], flush=True)
    info = provenance.describe()
    header = (f"\n## {info['date']}: `python bench/eval_speed.py --models {args.models} --limit "
              f"{args.limit} --batch-size {args.batch_size}`\n\nmachine: {info['machine']}, "
              f"commit {info['git_commit'][:12]}, torch {info['versions']['torch']}\n\n")
    out = Path(__file__).resolve().parents[1] / "results" / "eval_throughput.md"
    if not out.exists():
        out.write_text("# Evaluation throughput (greedy, open tier, transformers backend)\n")
    with open(out, "a") as fh:
        fh.write(header + "\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
