"""Training curves of a run, from its stages' metrics.jsonl files, as one PNG.

What says whether RL is learning: the accuracy reward (the strict metric of the stage's tier),
raw and as a moving average; the policy's entropy (sharpening or collapsing); and the share of
groups whose rewards were all equal (those give GRPO no gradient). The on-policy GRPO loss is
always about zero and says nothing, so it is not drawn; SFT stages get their loss instead.
GRPO stages that wrote a schedule record (stages/*/schedule.json) add a panel: each arm's
(tier/family) share of the prompts over the steps; dashed lines mark where each stage began
(a plateau schedule's stage boundaries).
"""

from __future__ import annotations

from pathlib import Path

from reftbench import fileio
from reftbench.training.schedule.record import read_stage

# TRL's names for the three GRPO curves, and the panel titles.
GRPO_PANELS = (("rewards/accuracy_reward/mean", "accuracy reward (moving average: line)"),
               ("entropy", "policy entropy (nats per token)"),
               ("frac_reward_zero_std", "share of groups with no reward spread"))
# The schedule panel's key (not a metric: drawn from the stages' schedule records).
ARM_PANEL = "arm shares"
# Points averaged by the accuracy reward's moving average.
WINDOW = 10


def moving_average(values: list[float], window: int = WINDOW) -> list[float]:
    """Mean of each value and up to `window - 1` before it (same length as `values`)."""
    out, total = [], 0.0
    for i, value in enumerate(values):
        total += value
        if i >= window:
            total -= values[i - window]
        out.append(total / min(i + 1, window))
    return out


def lay_end_to_end(rows: list[dict]) -> None:
    """Give each row an "x": stages restart their step count, so offset each by the last."""
    offset, last_stage, last_step = 0, None, 0
    for row in rows:
        if row["stage"] != last_stage:
            offset += last_step
            last_stage = row["stage"]
        row["x"] = offset + row["step"]
        last_step = row["step"]


def arm_shares(records: dict[str, dict], offsets: dict[str, int]) -> tuple[list, dict]:
    """(x of each generation batch, arm -> its share of that batch's prompts, as a moving
    average restarted at each stage), stages end to end; arms in their curriculum order."""
    arms = list(dict.fromkeys(a for rec in records.values() for a in rec["arms"]))
    xs, shares = [], {arm: [] for arm in arms}
    for stage, rec in records.items():
        xs += [offsets.get(stage, 0) + row["step"] for row in rec["chunks"]]
        for arm in arms:
            shares[arm] += moving_average([row["arms"].get(arm, 0)
                                           / max(sum(row["arms"].values()), 1)
                                           for row in rec["chunks"]])
    return xs, shares


def _arm_panel(ax, records: dict[str, dict], offsets: dict[str, int]) -> None:
    import matplotlib.pyplot as plt

    xs, shares = arm_shares(records, offsets)
    tiers = list(dict.fromkeys(arm.split("/")[0] for arm in shares))
    maps = [plt.get_cmap(name) for name in ("Blues", "Oranges", "Greens", "Purples")]
    colours = []
    for arm in shares:
        tier = tiers.index(arm.split("/")[0])
        same = [a for a in shares if a.split("/")[0] == arm.split("/")[0]]
        colours.append(maps[tier % len(maps)](0.4 + 0.5 * same.index(arm) / max(len(same), 1)))
    ax.stackplot(xs, *shares.values(), labels=list(shares), colors=colours, alpha=0.9)
    ax.set_ylim(0, 1)
    ax.legend(fontsize=6, loc="upper left", bbox_to_anchor=(1.01, 1.0))


def plot_curves(metrics_paths: list[Path], out_path: Path) -> Path | None:
    """The run's curves against the cumulative optimiser step, stages in order."""
    rows = [r for path in metrics_paths for r in fileio.read_jsonl(path) if "step" in r]
    if not rows:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    lay_end_to_end(rows)
    panels = [p for p in GRPO_PANELS if any(p[0] in r for r in rows)]
    records = {p.parent.name: rec for p in metrics_paths if (rec := read_stage(p.parent))}
    if records:
        panels.append((ARM_PANEL, "share of prompts per arm (moving average)"))
    if any("loss" in r and GRPO_PANELS[0][0] not in r for r in rows):
        panels.append(("loss", "SFT loss"))
    if not panels:
        return None
    fig, axes = plt.subplots(1, len(panels), figsize=(4.4 * len(panels), 3.8), squeeze=False)
    stages = list(dict.fromkeys(r["stage"] for r in rows))
    # Where each stage began on the common x axis (stages restart their step count).
    offsets = {r["stage"]: r["x"] - r["step"] for r in rows}
    for ax, (key, title) in zip(axes[0], panels):
        for start in sorted(set(offsets.values()) - {0}):
            ax.axvline(start + 0.5, color="grey", linestyle="--", linewidth=0.8)
        if key == ARM_PANEL:
            _arm_panel(ax, records, offsets)
        for colour, stage in enumerate(stages):
            pts = [(r["x"], r[key]) for r in rows if r["stage"] == stage and key in r
                   and (key != "loss" or GRPO_PANELS[0][0] not in r)]
            if not pts:
                continue
            xs, ys = zip(*pts)
            if key == GRPO_PANELS[0][0]:
                ax.plot(xs, ys, ".", alpha=0.3, color=f"C{colour}")
                ax.plot(xs, moving_average(list(ys)), color=f"C{colour}", label=stage)
            else:
                ax.plot(xs, ys, marker=".", color=f"C{colour}", label=stage)
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("optimiser step (all stages)")
        ax.grid(alpha=0.3)
        if ax.get_legend_handles_labels()[0] and key != ARM_PANEL:
            ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out_path, dpi=110)
    plt.close(fig)
    return out_path
