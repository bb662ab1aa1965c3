"""Does RL learn more when the model writes what it sees before it answers?

Every gold open-tier completion the base trains on has the same fixed sentence inside <think>,
so a maths answer is one token computed from the image in one go, and RL has no reasoning to
sharpen: only that token. This probe gives the shipped base a reasoning channel and nothing
else. It fine-tunes the base on the general mixture's own maths scenes (in-domain look, open
tier; never a benchmark scene) for `--steps` steps, with the gold <think> either the fixed
sentence (`--think fixed`, the control) or the scene's shapes left to right and, for corner
totals, the sum to do (`--think reasoning`):

    How many corners do all the shapes have in total?  ->  <think>triangle, square, circle:
    3 + 4 + 0.</think><answer>7</answer>
    How many sides does the red shape have?            ->  <think>It is a pentagon.</think>...

and saves the model. Score it and an RL run from it on maths validation scenes with
experiments/rl_probe.py (`--set families=math`):

    python experiments/reasoning_probe.py --think reasoning --output /tmp/reason
    python experiments/rl_probe.py --trainer none --model /tmp/reason --no-append
    python experiments/rl_probe.py --trainer grpo --model /tmp/reason --set families=math --no-append
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from experiments.settle_probe import train_into  # noqa: E402
from tasks.math.generate import CORNERS  # noqa: E402


def reasoning(question: str, objects: list[list]) -> str | None:
    """The written-out facts for a maths question about `objects` ([name, colour, x1, ...]);
    None for a scene that is not an in-domain shapes scene."""
    if not objects or any(o[0] not in CORNERS for o in objects):
        return None
    shapes = [o[0] for o in sorted(objects, key=lambda o: (o[2], o[3]))]
    asked = re.search(r"the (\w+) shape", question)
    if asked:
        named = [o[0] for o in objects if o[1] == asked.group(1)]
        return f"It is a {named[0]}." if len(named) == 1 else None
    if "corners" in question:
        return f"{', '.join(shapes)}: {' + '.join(str(CORNERS[s]) for s in shapes)}."
    return f"{', '.join(shapes)}."


def records(think: str, scenes: int) -> list[dict]:
    """Open maths records of the general train split's first `scenes` scenes, in-domain look,
    with the chosen gold <think>."""
    from reftbench.data.generated import load_split

    rows = load_split("general", "train", n=scenes, seed=0, tiers=("open",))
    out = []
    for row in rows:
        # The borrowed maths scenes: number answers in the in-domain look.
        if row["metric"] != "math_equiv":
            continue
        written = reasoning(row["question"], row.get("objects") or [])
        if row.get("look") != "id" or written is None:
            continue
        out.append({**row, "think": written} if think == "reasoning" else dict(row))
    return out


def fine_tune(rows: list[dict], steps: int, lr: float, output: Path) -> Path:
    """Fine-tune the shipped base on `rows` (TRL SFT, the base build's batch); save to output."""
    from dataclasses import replace

    from reftbench.base_build.recipe import BASE_PRESETS, BaseConfig
    from reftbench.model.names import resolve_model
    from reftbench.training.datasets import sft_dataset

    cfg = replace(BaseConfig(**BASE_PRESETS["tiny"]), save_steps=steps, logging_steps=10)
    train_into(cfg, resolve_model("base"), sft_dataset(rows).shuffle(seed=0), steps, lr, "reason",
               output)
    return output


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--think", choices=("reasoning", "fixed"), required=True)
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--lr", type=float, default=3e-4)
    parser.add_argument("--scenes", type=int, default=24000,
                        help="general train scenes to draw the maths questions from")
    parser.add_argument("--output", type=Path, required=True)
    args = parser.parse_args()
    start = time.time()
    rows = records(args.think, args.scenes)
    print(f"{len(rows)} maths records; e.g. {rows[0]['question']!r} -> "
          f"{rows[0].get('think', '(fixed)')!r}")
    print(fine_tune(rows, args.steps, args.lr, args.output))
    print(f"{time.time() - start:.0f} s")


if __name__ == "__main__":
    main()
