"""`grpo`: plain GRPO on the open tier with format + accuracy rewards (the paper's RL baseline).

One stage: TRL's GRPOTrainer with reftbench's strict rewards, no curriculum.
"""

from __future__ import annotations

from dataclasses import dataclass

from reftbench.training.config import GRPOBudget, GRPOFields, LoRAFields, RunFields
from reftbench.training.pipeline import Stage
from reftbench.training.plugin import TrainerPlugin
from trainers.presets import presets_for


@dataclass
class GRPORunConfig(RunFields, GRPOBudget, GRPOFields, LoRAFields):
    """Config of the plain GRPO baseline (see the field comments of each block)."""


def plan(cfg: GRPORunConfig) -> list[Stage]:
    """A single GRPO stage on the open tier."""
    def run(model: str, stage_dir, progress):
        from reftbench.training.grpo_stage import run_grpo
        from reftbench.training.splits import train_samples

        samples = train_samples(cfg, tiers=("open",))
        return run_grpo(cfg, model, samples, stage_dir, cfg.grpo_steps, cfg.num_generations,
                        "grpo", progress)

    return [Stage("1-grpo", run)]


TRAINER = TrainerPlugin(
    name="grpo",
    description="plain GRPO on the open tier, format + accuracy reward (the RL baseline)",
    config_cls=GRPORunConfig,
    presets=presets_for(GRPORunConfig),
    plan=plan,
)
