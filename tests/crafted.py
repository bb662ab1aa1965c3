"""Results folders with crafted per-question scores, where the true differences are known.

    world = draw(effects={"sft": {"id": .05}}, seed=0)     # label -> runs -> cell -> 0/1 array
    write(tmp_path, world)                                  # results.json + scores.json per run

A question's difficulty is shared by every model (so scores pair): model m answers question q
right when u_q < accuracy_m + its run's luck on q. The base has one run; every other label has
`seeds` runs, each with its own luck, so runs of one method differ question by question.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from reftbench.evaluation import scores
from reftbench.evaluation.stats import aggregate
from reftbench.samples import FAMILIES, TEST_SPLITS

# The base's accuracy per split; a method's is this plus its effect.
BASE = {"id": 0.42, "ood": 0.29}
METHODS = ("sft", "grpo", "curr-rl", "curr-reft")


def draw(effects: dict[str, dict[str, float]], seed: int = 0, questions: int = 500,
         seeds: int = 3, luck: float = 0.08, general: bool = True,
         labels=("base", *METHODS)) -> dict[str, list[dict[str, np.ndarray]]]:
    """label -> runs -> "family/split/open" -> 0/1 scores; `effects[label][split]` shifts a
    label's accuracy (split "general" for the general column)."""
    rng = np.random.default_rng(seed)
    keys = [(f"{f}/{s}/open", s) for f in FAMILIES for s in TEST_SPLITS]
    if general:
        keys.append(("general/id/open", "general"))
    difficulty = {key: rng.random(questions) for key, _ in keys}
    world = {}
    for label in labels:
        runs = 1 if label == "base" else seeds
        world[label] = []
        for _ in range(runs):
            run = {}
            for key, split in keys:
                level = BASE.get(split, 0.38) + effects.get(label, {}).get(split, 0.0)
                noise = rng.normal(0, luck, questions) if label != "base" else 0.0
                run[key] = (difficulty[key] < level + noise).astype(float)
            world[label].append(run)
    return world


def rows_of(run: dict[str, np.ndarray]) -> list[dict]:
    """samples.jsonl-shaped rows of one run."""
    out = []
    for key, values in run.items():
        family, split, tier = key.split("/")
        out += [{"id": f"{family}-{split}-{q:06d}-{tier}", "family": family, "split": split,
                 "tier": tier, "gold": f"g{q}", "strict": float(v)} for q, v in enumerate(values)]
    return out


def write(results_dir: Path, world: dict, with_scores: bool = True) -> None:
    """A run folder per run, as the evaluator writes it (scores.json unless told not to)."""
    for label, runs in world.items():
        for i, run in enumerate(runs):
            run_id = f"{label}-seed{i}" if label != "base" else "base"
            folder = Path(results_dir) / "runs" / run_id
            folder.mkdir(parents=True, exist_ok=True)
            rows = rows_of(run)
            extra = {} if label == "base" else {"trainer": label, "seed": i}
            (folder / "results.json").write_text(json.dumps({
                "label": label, "run_id": run_id, "metrics": aggregate(rows),
                "config": {"extra": extra}, "provenance": {"date": "2026-01-01T00:00:00"}}))
            if with_scores:
                scores.write(folder, rows)
