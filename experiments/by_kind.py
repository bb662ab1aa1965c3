"""Greedy accuracy by question kind: which kinds of question does training move?

Math questions come in kinds that read one fact (how many shapes, sides of one shape) and kinds
that combine several (corners in total, how many more of one shape than another). This scores
models greedy, strict, open tier, per kind on held-back train-split scenes (`--from` onwards,
never a test split), so a gain on combining kinds can be told from a gain on reading.

    python experiments/by_kind.py --models base,/tmp/probes/run/stages/1-grpo/model --scenes 500
"""

from __future__ import annotations

import argparse
import sys
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import output_options, report  # noqa: E402
from experiments.rl_probe import validation  # noqa: E402
from experiments.transfer import run_label  # noqa: E402
from reftbench.model.names import resolve_model  # noqa: E402


def by_kind(samples: list[dict], completions: list[str]) -> dict[str, tuple[float, int]]:
    """kind -> (strict accuracy in %, questions), kinds in order of first appearance."""
    from reftbench.scoring.rewards import score

    right, count = defaultdict(float), defaultdict(int)
    for sample, completion in zip(samples, completions):
        kind = sample.get("kind") or sample["family"]
        right[kind] += score(sample, completion)["strict"]
        count[kind] += 1
    return {k: (round(100 * right[k] / count[k], 1), count[k]) for k in count}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models", required=True, help="comma-separated model names or paths")
    parser.add_argument("--family", default="math")
    parser.add_argument("--from", dest="first", type=int, default=2500)
    parser.add_argument("--scenes", type=int, default=500)
    output_options(parser, notebook="rl-transfer")
    args = parser.parse_args()

    import torch

    from reftbench.generation.decoding import Sampling
    from reftbench.generation.backends import TransformersBackend
    from reftbench.model.load import load_model

    samples = validation([args.family], args.first, args.scenes, 0)
    table = {}
    for name in args.models.split(","):
        torch.manual_seed(0)
        policy, processor = load_model(resolve_model(name))
        backend = TransformersBackend(policy.eval(), processor, batch_size=64)
        out = backend.generate(samples, Sampling(max_new_tokens=48))
        table[run_label(name)] = by_kind(samples, [o[0] for o in out])
    kinds = list(next(iter(table.values())))
    rows = [[k, str(next(iter(table.values()))[k][1]), *(str(t[k][0]) for t in table.values())]
            for k in kinds]
    report(f"Greedy accuracy by question kind ({args.family})",
           ["kind", "questions", *table], rows,
           notes=[f"train-split scenes {args.first}-{args.first + args.scenes - 1}, open tier, "
                  "strict, greedy"], append=not args.no_append,
           notebook=args.notebook)


if __name__ == "__main__":
    main()
