"""How much can sharpening alone give? Greedy against the majority answer of K samples.

RL that only sharpens a model's own distribution (moves probability onto the answers it already
samples most often, as GRPO on fresh prompts largely does) can at best make its greedy answer
the majority answer of its samples. This script scores, on the validation questions of
`experiments/rl_probe.py` (held-back train-split scenes, open tier, never a test split): greedy,
the mean sampled accuracy, maj@K (the most frequent extracted answer of K samples at T=1, ties
to the earliest) and pass@K.

    python experiments/majority.py --model base --samples 8
"""

from __future__ import annotations

import argparse
import re
import sys
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import output_options, report  # noqa: E402
from experiments.rl_probe import validation  # noqa: E402
from reftbench.model.names import resolve_model  # noqa: E402


def answer_key(family: str, completion: str) -> str | None:
    """A completion's answer, normalised so that equal answers vote together (label order and
    spacing ignored); None when it has no single answer block."""
    from reftbench.scoring.rewards import extract_answer

    text = extract_answer(completion)
    if text is None:
        return None
    text = re.sub(r"\s+", "", text.lower())
    if family == "classification":
        return ",".join(sorted(set(filter(None, text.split(",")))))
    return text


def majority(family: str, completions: list[str]) -> str | None:
    """The completion whose answer most samples share (the first of them); None if none
    has an answer."""
    keys = [answer_key(family, c) for c in completions]
    counts = Counter(k for k in keys if k is not None)
    if not counts:
        return None
    best = max(counts.values())
    return next(c for c, k in zip(completions, keys) if k is not None and counts[k] == best)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="base")
    parser.add_argument("--samples", type=int, default=8)
    parser.add_argument("--train-scenes", type=int, default=2500)
    parser.add_argument("--val-scenes", type=int, default=300)
    output_options(parser, notebook="rl-transfer")
    args = parser.parse_args()

    import torch

    from reftbench.generation.decoding import Sampling
    from reftbench.generation.backends import TransformersBackend
    from reftbench.model.load import load_model
    from reftbench.scoring.rewards import score
    from reftbench.samples import FAMILIES

    torch.manual_seed(0)
    samples = validation(FAMILIES, args.train_scenes, args.val_scenes, 0)
    policy, processor = load_model(resolve_model(args.model))
    backend = TransformersBackend(policy.eval(), processor, batch_size=64)
    greedy = backend.generate(samples, Sampling(max_new_tokens=48))
    draws = backend.generate(samples, Sampling(max_new_tokens=48, temperature=1.0,
                                               n=args.samples))
    table = {}
    for s, g, d in zip(samples, greedy, draws):
        right = [score(s, c)["strict"] for c in d]
        vote = majority(s["family"], d)
        cells = table.setdefault(s["family"], [0.0, 0.0, 0.0, 0.0, 0])
        cells[0] += score(s, g[0])["strict"]
        cells[1] += sum(right) / len(right)
        cells[2] += score(s, vote)["strict"] if vote is not None else 0.0
        cells[3] += float(max(right) == 1.0)
        cells[4] += 1
    rows = [[f, *(round(100 * v / c[4], 1) for v in c[:4])] for f, c in table.items()]
    rows.append(["average", *(round(sum(r[i] for r in rows) / len(rows), 1) for i in range(1, 5))])
    k = args.samples
    report(f"Greedy against the majority of {k} samples ({args.model})",
           ["family", "greedy", f"sampled (K={k})", f"maj@{k}", f"pass@{k}"], rows,
           notes=[f"validation: {args.val_scenes} train-split scenes per family after the "
                  f"first {args.train_scenes} (open tier), strict scores; samples at T=1"],
           append=not args.no_append,
           notebook=args.notebook)


if __name__ == "__main__":
    main()
