"""Reward and loss curves of a training run, from its metrics.jsonl, as a PNG."""

from __future__ import annotations

from pathlib import Path

from reftbench import fileio


def plot_curves(metrics_paths: list[Path], out_path: Path) -> Path | None:
    """Reward (GRPO stages) and loss (every stage) against the run's cumulative step,
    from the stages' metrics.jsonl files in stage order."""
    rows = [r for path in metrics_paths for r in fileio.read_jsonl(path) if "step" in r]
    if not rows:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    offset, last_stage, last_step = 0, None, 0
    for row in rows:  # stages restart their step count: lay them end to end
        if row["stage"] != last_stage:
            offset += last_step
            last_stage = row["stage"]
        row["x"] = offset + row["step"]
        last_step = row["step"]
    for ax, key in zip(axes, ("reward", "loss")):
        for stage in dict.fromkeys(r["stage"] for r in rows):
            pts = [(r["x"], r[key]) for r in rows if r["stage"] == stage and key in r]
            if pts:
                ax.plot(*zip(*pts), marker=".", label=stage)
        ax.set_xlabel("optimiser step (all stages)")
        ax.set_ylabel(key)
        ax.grid(alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=8)
    axes[0].set_title("mean reward (format + accuracy)")
    axes[1].set_title("training loss")
    fig.tight_layout()
    fig.savefig(out_path, dpi=110)
    plt.close(fig)
    return out_path
