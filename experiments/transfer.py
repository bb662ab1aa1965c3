"""Does what RL learns on its training scenes carry over to scenes it never saw?

Scores models (greedy and sampled, strict, open tier) on two sets of train-split scenes per
family: the first `--seen` (the scenes a `experiments/rl_probe.py --train-scenes N` run trained on,
when N = --seen) and the `--unseen` after `--unseen-from` (which no run with fewer training
scenes saw). Never a test split.

    python experiments/transfer.py --models base,/tmp/probes/ep2/grpo-123/stages/1-grpo/model \
        --seen 200 --unseen-from 200 --unseen 300
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import output_options, report  # noqa: E402
from experiments.rl_probe import score_model, validation  # noqa: E402
from reftbench.model.names import resolve_model  # noqa: E402


def run_label(name: str) -> str:
    """A short row label: the run folder of a `.../RUN/stages/STAGE/model` path, else the
    name as given."""
    parts = Path(name).parts
    return parts[parts.index("stages") - 1] if "stages" in parts[1:] else name


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models", required=True, help="comma-separated model names or paths")
    parser.add_argument("--seen", type=int, default=200)
    parser.add_argument("--unseen-from", type=int, default=200)
    parser.add_argument("--unseen", type=int, default=300)
    parser.add_argument("--samples", type=int, default=4)
    output_options(parser, notebook="rl-transfer")
    args = parser.parse_args()

    from reftbench.samples import FAMILIES

    sets = {"seen": validation(FAMILIES, 0, args.seen, 0),
            "unseen": validation(FAMILIES, args.unseen_from, args.unseen, 0)}
    rows = []
    for name in args.models.split(","):
        model = resolve_model(name)
        for label, questions in sets.items():
            scores = score_model(model, questions, args.samples)
            avg = [round(sum(v[i] for v in scores.values()) / len(scores), 1) for i in range(2)]
            rows.append([run_label(name), label,
                         *(str(scores[f][0]) for f in scores), *map(str, avg)])
    families = list(dict.fromkeys(q["family"] for q in sets["seen"]))
    report("Seen and unseen training scenes", ["model", "scenes", *families,
                                               "greedy avg", f"sampled avg (K={args.samples})"],
           rows, notes=[f"seen: train-split scenes 0-{args.seen - 1} per family; unseen: "
                        f"{args.unseen_from}-{args.unseen_from + args.unseen - 1}; open tier, "
                        "strict greedy per family"], append=not args.no_append,
           notebook=args.notebook)


if __name__ == "__main__":
    main()
