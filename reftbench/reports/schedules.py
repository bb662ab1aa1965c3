"""SCHEDULES.md: what each compared schedule spent, and how soon it reached the fixed
schedule's training reward (written by `reftbench compare` when a trainer is named with a
schedule, e.g. `curr-rl:bandit`).

Per trainer spec and seed, from the run's budget.json and its stages' schedule.json:
optimiser steps, completions generated, the share of groups with reward spread (the only ones
GRPO learns from), the final open-tier training reward (moving average over the last 10
generation batches; open-tier arms only, so a bandit's mixed batches compare with a fixed open
stage), and the step and completions at which that reward first reached the final one of the
same trainer's fixed schedule on the same seed, beside the reward of its first 10 open-tier
batches (a reward that never rose is reached at once, and its step count measures noise).
Mean ± std over seeds. Training reward only: the test splits are the leaderboard's.
"""

from __future__ import annotations

import json
import statistics
from pathlib import Path

from reftbench import fileio
from reftbench.training.schedule.record import RUN_FILE, accuracy_curve, final_reward, reach

# The tier whose training reward is compared (every schedule trains it; the evaluation's tier).
TIER = "open"
# The picture written beside SCHEDULES.md.
PICTURE = "schedules.png"


def fmt(values: list[float], digits: int = 0) -> str:
    """Mean ± std (just the value for one run; "-" for none)."""
    values = [v for v in values if v is not None]
    if not values:
        return "-"
    mean = f"{statistics.mean(values):.{digits}f}"
    return mean if len(values) == 1 else f"{mean} ± {statistics.stdev(values):.{digits}f}"


def run_figures(run_dir: Path, target: float | None) -> dict:
    """One run's budget and speed figures (see the module docstring)."""
    budget = json.loads((run_dir / RUN_FILE).read_text())["total"]
    curve = accuracy_curve(run_dir, TIER)
    reached = reach(curve, target) if target is not None else None
    return {"steps": budget["steps"], "completions": budget["completions"],
            "signal": budget["signal_share"], "first": first_reward(curve),
            "final": final_reward(curve),
            "reach_steps": reached[0] if reached else None,
            "reach_completions": reached[1] if reached else None,
            "reached": reached is not None}


def first_reward(curve, window: int = 10) -> float | None:
    """The mean over the curve's first `window` chunks: where the reward started, so that a
    final reward and the steps to reach it read against it (None for an empty curve)."""
    head = [acc for _, _, acc in curve[:window]]
    return sum(head) / len(head) if head else None


def write_schedules(runs: dict[str, dict[int, Path]], results_dir: Path) -> Path:
    """Write <results_dir>/SCHEDULES.md from `runs` (trainer spec -> seed -> run folder; a spec
    without a schedule, e.g. "curr-rl", is the fixed reference of "curr-rl:bandit")."""
    rows = []
    for spec, by_seed in runs.items():
        figures = []
        for seed, run_dir in by_seed.items():
            if not (Path(run_dir) / RUN_FILE).exists():
                continue
            fixed = runs.get(spec.partition(":")[0], {}).get(seed)
            target = (final_reward(accuracy_curve(Path(fixed), TIER))
                      if fixed and (Path(fixed) / RUN_FILE).exists() else None)
            figures.append(run_figures(Path(run_dir), target))
        if not figures:
            continue
        reached = sum(f["reached"] for f in figures)
        rows.append([spec, str(len(figures)), fmt([f["steps"] for f in figures]),
                     fmt([f["completions"] for f in figures]),
                     fmt([100 * f["signal"] for f in figures if f["signal"] is not None], 1),
                     fmt([f["first"] for f in figures], 3),
                     fmt([f["final"] for f in figures], 3),
                     f"{fmt([f['reach_steps'] for f in figures])} ({reached}/{len(figures)})",
                     fmt([f["reach_completions"] for f in figures])])
    header = ["trainer:schedule", "runs", "optimiser steps", "completions",
              "groups with signal (%)",
              f"first {TIER}-tier training reward", f"final {TIER}-tier training reward",
              "steps to the fixed schedule's final reward (runs that reached it)",
              "completions to it"]
    table = "\n".join("| " + " | ".join(r) + " |" for r in
                      [header, ["---"] * len(header), *rows])
    path = Path(results_dir) / "SCHEDULES.md"
    picture = plot(runs, Path(results_dir) / PICTURE)
    fileio.write_atomic(path, "# Schedules: budget and speed\n\n" + __doc__.split("\n\n")[1]
                        .replace("\n", " ").strip() + "\n\n" + table + "\n" +
                        (f"\n![open-tier training reward by schedule]({PICTURE})\n"
                         if picture else ""))
    return path


def plot(runs: dict[str, dict[int, Path]], path: Path) -> bool:
    """PICTURE: each run's open-tier training reward (moving average over 10 generation
    batches) against optimiser steps and against completions, one colour per schedule, each
    seed a line; the fixed schedule's final reward dashed. False (nothing written) without
    records."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from reftbench.training.schedule.policy import moving_average

    curves = {spec: [accuracy_curve(Path(d), TIER) for d in by_seed.values()
                     if (Path(d) / RUN_FILE).exists()] for spec, by_seed in runs.items()}
    curves = {spec: [c for c in found if c] for spec, found in curves.items()}
    if not any(curves.values()):
        return False
    fig, axes = plt.subplots(1, 2, figsize=(11, 4), sharey=True)
    for i, (spec, found) in enumerate(curves.items()):
        colour = f"C{i}"
        for j, curve in enumerate(found):
            average = moving_average([acc for _, _, acc in curve], 10)
            for ax, x in zip(axes, ([c[0] for c in curve], [c[1] for c in curve])):
                ax.plot(x, average, color=colour, alpha=0.8, lw=1.2,
                        label=spec if j == 0 and ax is axes[0] else None)
        if ":" not in spec and found:
            target = statistics.mean(final_reward(c) for c in found)
            for ax in axes:
                ax.axhline(target, color=colour, ls="--", lw=0.8)
    axes[0].set_xlabel("optimiser step")
    axes[1].set_xlabel("completions generated")
    axes[0].set_ylabel(f"{TIER}-tier training accuracy reward\n(moving average, 10 batches)")
    axes[0].legend(fontsize=8)
    fig.suptitle("Schedules: open-tier training reward, each seed a line; dashed: the fixed "
                 "schedule's final reward (mean over seeds)", fontsize=9)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    fig.savefig(tmp, format="png", dpi=110)
    plt.close(fig)
    tmp.replace(path)
    return True
