"""`curr-rl`: GRPO through the curriculum, judge -> choice -> open (Curr-ReFT without stage 2).

Each stage trains on its tier's training samples with that tier's strict reward, starting
from the previous stage's saved model; stage lengths and group sizes are configurable.
"""

from __future__ import annotations

from dataclasses import dataclass

from reftbench.errors import UserError
from reftbench.registry import check_names
from reftbench.samples import TIERS
from reftbench.training.config import CurriculumFields, GRPOFields, LoRAFields, RunFields
from reftbench.training.pipeline import Stage
from reftbench.training.plugin import TrainerPlugin
from trainers.presets import presets_for


@dataclass
class CurrRLConfig(RunFields, GRPOFields, CurriculumFields, LoRAFields):
    """Config of curriculum GRPO (see the field comments of each block)."""


def curriculum_stages(cfg) -> list[Stage]:
    """One GRPO stage per tier in `cfg.stages`, in order (shared with curr-reft)."""
    if not (len(cfg.stages) == len(cfg.stage_steps) == len(cfg.stage_generations)):
        raise UserError("stages, stage_steps and stage_generations must have the same length")
    check_names("tier", cfg.stages, TIERS)

    def make(tier: str, steps: int, generations: int, name: str):
        def run(model: str, stage_dir, progress):
            from reftbench.training.grpo_stage import run_grpo
            from reftbench.training.splits import train_samples

            samples = train_samples(cfg, tiers=(tier,))
            return run_grpo(cfg, model, samples, stage_dir, steps, generations, name, progress)
        return Stage(name, run)

    return [make(tier, steps, g, f"{i}-{tier}") for i, (tier, steps, g)
            in enumerate(zip(cfg.stages, cfg.stage_steps, cfg.stage_generations), 1)]


TRAINER = TrainerPlugin(
    name="curr-rl",
    description="curriculum GRPO: judge, then choice, then open, each stage chained",
    config_cls=CurrRLConfig,
    presets=presets_for(CurrRLConfig),
    plan=curriculum_stages,
)
