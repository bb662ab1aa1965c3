"""What a model answers to "which shapes appear?": how many shapes its open answers name.

A base whose classification answers ignore the image tends to name the same long list for
every scene. This scores the classification open questions of held-back train-split scenes
(the validation questions of experiments/rl_probe.py, never a test split), greedy, and counts the
shapes each answer names against the gold, with the commonest answer.

    python experiments/answer_shapes.py /tmp/controlbase /tmp/chatbase --val-scenes 60
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import output_options, report  # noqa: E402
from experiments.rl_probe import validation  # noqa: E402


def shapes_named(answer: str | None) -> int:
    """How many comma-separated items an answer lists (0 if none)."""
    return len([part for part in (answer or "").split(",") if part.strip()])


def main() -> None:
    from reftbench.generation.decoding import Sampling
    from reftbench.generation.backends import TransformersBackend
    from reftbench.model.load import load_model
    from reftbench.scoring.rewards import extract_answer, score

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("models", nargs="+")
    parser.add_argument("--train-scenes", type=int, default=2500)
    parser.add_argument("--val-scenes", type=int, default=60)
    output_options(parser, notebook="comparison-builds")
    args = parser.parse_args()
    samples = validation(["classification"], args.train_scenes, args.val_scenes, 0)
    gold = Counter(shapes_named(s["answer"]) for s in samples)
    rows = []
    for name in args.models:
        model, processor = load_model(name)
        backend = TransformersBackend(model.eval(), processor, batch_size=64)
        outs = [o[0] for o in backend.generate(samples, Sampling(max_new_tokens=48))]
        answers = [extract_answer(o) for o in outs]
        named = Counter(shapes_named(a) for a in answers)
        top, times = Counter(answers).most_common(1)[0]
        rows.append([name, int(sum(score(s, o)["strict"] for s, o in zip(samples, outs))),
                     " / ".join(str(named[n]) for n in (1, 2, 3)),
                     sum(v for n, v in named.items() if n not in (1, 2, 3)), f"{top} ({times})"])
    report("Shapes named in classification answers",
           ["model", "right", "names 1 / 2 / 3 shapes", "other", "commonest answer (times)"],
           rows, notes=[f"{len(samples)} classification open questions of train scenes from "
                        f"{args.train_scenes} (held back), greedy; gold names 1 / 2 / 3 shapes "
                        f"{gold[1]} / {gold[2]} / {gold[3]} times"],
           append=not args.no_append,
           notebook=args.notebook)


if __name__ == "__main__":
    main()
