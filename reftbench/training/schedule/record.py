"""What a scheduled GRPO stage writes, and what a run adds up from its stages.

Each GRPO stage writes `stages/<name>/schedule.json`: per generation batch (chunk), the step it
was first trained on, how many prompts each arm (tier/family) got, how many groups had reward
spread (carried signal), the mean accuracy reward and, for the bandit, the arm probabilities;
and the stage's budget: optimiser steps, completions generated, groups with signal. At the end
of a run, `budget.json` adds the stages up, so two schedules are compared at equal cost.
"""

from __future__ import annotations

import json
from pathlib import Path

from reftbench import fileio

# Per-stage record and run-level budget file names.
STAGE_FILE, RUN_FILE = "schedule.json", "budget.json"


def chunk_rows(observations: list[list[list]], probs: list[dict], steps_per_chunk: int,
               first_chunk: int = 0) -> list[dict]:
    """One row per observed chunk: its first optimiser step, arm counts (an arm is
    "tier/family"), groups with spread (all, and per arm), each arm's mean |advantage| (the
    bandit's gain), the accuracy reward (all groups, and per tier) and the dataset rows its
    prompts came from (-1 each when TRL's own sampler drew them)."""
    rows = []
    for k, groups in enumerate(observations, first_chunk):
        arms: dict[str, int] = {}
        signal: dict[str, int] = {}
        gains: dict[str, list[float]] = {}
        tiers: dict[str, list[float]] = {}
        for _, arm, spread, gain, accuracy in groups:
            arms[arm] = arms.get(arm, 0) + 1
            signal[arm] = signal.get(arm, 0) + int(spread)
            gains.setdefault(arm, []).append(gain)
            tiers.setdefault(arm.split("/")[0], []).append(accuracy)
        row = {"chunk": k, "step": k * steps_per_chunk + 1, "arms": arms, "groups": len(groups),
               "signal": sum(1 for g in groups if g[2]),
               "accuracy": sum(g[4] for g in groups) / max(len(groups), 1),
               "tier_accuracy": {t: sum(a) / len(a) for t, a in tiers.items()},
               "arm_signal": signal,
               "arm_gain": {a: round(sum(g) / len(g), 6) for a, g in gains.items()},
               "rows": [g[0] for g in groups]}
        if k - first_chunk < len(probs):
            row["probs"] = {a: round(p, 6) for a, p in probs[k - first_chunk].items()}
        rows.append(row)
    return rows


def share(rows: list[dict]) -> float | None:
    """Share of the rows' groups that had reward spread (None without groups)."""
    groups = sum(r["groups"] for r in rows)
    return round(sum(r["signal"] for r in rows) / groups, 4) if groups else None


def stage_budget(rows: list[dict], steps: int, generations: int, passed_over: int,
                 unobserved_steps: int = 0) -> dict:
    """What the stage spent: optimiser steps, generation batches, completions (groups x G) and
    groups with signal, overall and in each half of the stage (the share before and after the
    schedule had seen the rewards)."""
    half = len(rows) // 2
    groups = sum(r["groups"] for r in rows)
    return {"steps": steps, "generation_batches": len(rows), "completions": groups * generations,
            "groups": groups, "groups_with_signal": sum(r["signal"] for r in rows),
            "signal_share": share(rows), "signal_share_first_half": share(rows[:half]),
            "signal_share_second_half": share(rows[half:]),
            "prompts_passed_over": passed_over, "unobserved_steps": unobserved_steps}


def read_stage(stage_dir: Path) -> dict | None:
    """A stage's schedule.json, or None (an SFT stage, or a stage not finished)."""
    path = Path(stage_dir) / STAGE_FILE
    return json.loads(path.read_text()) if path.exists() else None


def write_run_budget(run_dir: Path, settings: dict) -> dict | None:
    """Add up the stages' budgets into run_dir/budget.json (None when no stage was GRPO)."""
    stages = {p.parent.name: json.loads(p.read_text())
              for p in sorted(Path(run_dir).glob(f"stages/*/{STAGE_FILE}"))}
    if not stages:
        return None
    keys = ("steps", "generation_batches", "completions", "groups", "groups_with_signal",
            "prompts_passed_over")
    total = {k: sum(s["budget"][k] for s in stages.values()) for k in keys}
    total["signal_share"] = (round(total["groups_with_signal"] / total["groups"], 4)
                             if total["groups"] else None)
    budget = {**settings, "total": total,
              "stages": {name: s["budget"] for name, s in stages.items()}}
    fileio.write_json(Path(run_dir) / RUN_FILE, budget)
    return budget


def accuracy_curve(run_dir: Path, tier: str | None = None) -> list[tuple[int, int, float]]:
    """(cumulative optimiser step, cumulative completions, accuracy reward) after each chunk of
    the run, stages end to end; with `tier`, only chunks holding that tier count, scored on
    its arms alone (so a bandit's open-tier reward compares with a fixed open stage's)."""
    out, steps, completions = [], 0, 0
    for path in sorted(Path(run_dir).glob(f"stages/*/{STAGE_FILE}")):
        record = json.loads(path.read_text())
        per_group = record["budget"]["completions"] // max(record["budget"]["groups"], 1)
        for row in record["chunks"]:
            completions += row["groups"] * per_group
            acc = row.get("tier_accuracy", {}).get(tier) if tier else row["accuracy"]
            if acc is not None:
                out.append((steps + row["step"], completions, acc))
        steps += record["budget"]["steps"]
    return out


def final_reward(curve: list[tuple[int, int, float]], window: int = 10) -> float | None:
    """The curve's last moving average over `window` chunks (None for an empty curve)."""
    from reftbench.training.schedule.policy import moving_average

    return moving_average([acc for _, _, acc in curve], window)[-1] if curve else None


def reach(curve: list[tuple[int, int, float]], target: float,
          window: int = 10) -> tuple[int, int] | None:
    """(step, completions) at which the curve's moving average over `window` chunks first
    reaches `target`, or None if it never does."""
    from reftbench.training.schedule.policy import moving_average

    average = moving_average([acc for _, _, acc in curve], window)
    return next(((step, done) for (step, done, _), avg in zip(curve, average) if avg >= target),
                None)
