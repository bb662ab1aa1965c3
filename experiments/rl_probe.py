"""Does RL learn here? Train one method with given settings, score it on a validation split.

Settings (learning rate, loss type, group size, steps, ...) are chosen on the training reward
and on this validation split, never on the test splits: the validation questions are train-split
scenes that training never sees (the run trains on the first `--train-scenes` scenes of each
family, and scenes from there to `--train-scenes + --val-scenes` are scored), open tier,
greedy and with K samples, strict scores.

    python experiments/rl_probe.py --trainer grpo --set grpo_steps=200 --set loss_type=dr_grpo
    python experiments/rl_probe.py --trainer none          # the start model's validation scores

Prints the run's mean accuracy reward over its first and last 20% of steps and the validation
table, and adds both to results/notebook/rl-settings.md (`--notebook` names another question's
file; `--no-append` only prints).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import output_options, report  # noqa: E402
from reftbench.model.names import resolve_model  # noqa: E402


def validation(families, train_scenes: int, val_scenes: int, seed: int) -> list[dict]:
    """Open-tier questions of train-split scenes [train_scenes, train_scenes + val_scenes)."""
    from reftbench.data.generated import load_split

    out = []
    for family in families:
        rows = load_split(family, "train", n=train_scenes + val_scenes, seed=seed, tiers=("open",))
        out += [r for r in rows if int(r["base_id"].rsplit("-", 1)[1]) >= train_scenes]
    return out


def score_model(model: str, samples: list[dict], k: int) -> dict:
    """family -> (greedy strict accuracy, mean sampled accuracy, pass@k), in %."""
    import torch

    from reftbench.evaluation.evaluate import score_row
    from reftbench.generation.decoding import Sampling
    from reftbench.generation.backends import TransformersBackend
    from reftbench.model.load import load_model

    torch.manual_seed(0)
    policy, processor = load_model(model)
    backend = TransformersBackend(policy.eval(), processor, batch_size=64)
    greedy = backend.generate(samples, Sampling(max_new_tokens=48))
    draws = backend.generate(samples, Sampling(max_new_tokens=48, temperature=1.0, n=k))
    rows = [score_row(s, g[0], d) for s, g, d in zip(samples, greedy, draws)]
    out = {}
    for family in dict.fromkeys(s["family"] for s in samples):
        mine = [r for r in rows if r["family"] == family]
        out[family] = tuple(round(100 * sum(r[f] for r in mine) / len(mine), 1)
                            for f in ("strict", "sampled", "pass_k"))
    return out


def reward_trend(run: Path) -> tuple[float, float] | None:
    """Mean accuracy reward over the first and the last 20% of logged GRPO steps."""
    rows = [json.loads(line) for path in sorted((run / "stages").glob("*/metrics.jsonl"))
            for line in path.read_text().splitlines() if line.strip()]
    acc = [r["rewards/accuracy_reward/mean"] for r in rows if "rewards/accuracy_reward/mean" in r]
    if len(acc) < 5:
        return None
    cut = max(1, len(acc) // 5)
    return round(sum(acc[:cut]) / cut, 3), round(sum(acc[-cut:]) / cut, 3)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--trainer", default="grpo", help="a trainer name, or 'none'")
    parser.add_argument("--model", default="base")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="trainer config override (repeatable)")
    parser.add_argument("--train-scenes", type=int, default=2500)
    parser.add_argument("--val-scenes", type=int, default=300)
    parser.add_argument("--samples", type=int, default=4)
    parser.add_argument("--output", type=Path, default=Path("/tmp/rl_probe"))
    output_options(parser, notebook="rl-settings")
    args = parser.parse_args()

    from rich.console import Console

    from reftbench.samples import FAMILIES
    from reftbench.training.run import train

    start = resolve_model(args.model)
    model, trend, seconds = start, None, 0.0
    if args.trainer != "none":
        overrides = ["--model", start, "--n_train", str(args.train_scenes), "--evaluate", "false"]
        for item in args.set:
            key, _, value = item.partition("=")
            overrides += [f"--{key}", value]
        run = args.output / f"{args.trainer}-{int(time.time())}"
        began = time.perf_counter()
        train(args.trainer, overrides=overrides, output=run, resume=False, console=Console())
        seconds = time.perf_counter() - began
        model = str(sorted((run / "stages").glob("*/model"))[-1])
        trend = reward_trend(run)
    scores = score_model(model, validation(FAMILIES, args.train_scenes, args.val_scenes, 0),
                         args.samples)
    rows = [[f, *map(str, v)] for f, v in scores.items()]
    avg = [round(sum(v[i] for v in scores.values()) / len(scores), 1) for i in range(3)]
    rows.append(["average", *map(str, avg)])
    notes = [f"trainer {args.trainer} from {args.model}, settings: {' '.join(args.set) or '-'}",
             f"accuracy reward, first / last 20% of steps: {trend}",
             f"training wall time {seconds:.0f} s; validation: {args.val_scenes} train-split "
             "scenes per family that training never sees (open tier)"]
    report(f"RL probe: {args.trainer}", ["family", "greedy", f"sampled (K={args.samples})",
                                         f"pass@{args.samples}"], rows, notes=notes,
           append=not args.no_append,
           notebook=args.notebook)


if __name__ == "__main__":
    main()
