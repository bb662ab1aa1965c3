"""`curr-rl`: GRPO through the curriculum, judge -> choice -> open (Curr-ReFT without stage 2).

Each stage trains on its tier's training samples with that tier's strict reward, starting
from the previous stage's saved model; stage lengths and group sizes are configurable.
`schedule` changes how the steps are spent (docs/schedules.md), never how many there are:
`fixed` runs each stage its stage_steps; `plateau` ends a stage (not the last) once its
accuracy reward stops rising and hands the unused steps on; `bandit` is one GRPO stage over
every tier x family arm for sum(stage_steps) steps, with the largest of stage_generations.
"""

from __future__ import annotations

from dataclasses import dataclass

from reftbench.errors import UserError
from reftbench.registry import check_names
from reftbench.samples import TIERS
from reftbench.training.config import (CurriculumFields, GRPOFields, LoRAFields, RunFields,
                                       ScheduleFields)
from reftbench.training.pipeline import Stage
from reftbench.training.plugin import TrainerPlugin
from reftbench.training.schedule.stages import check_schedule
from trainers.presets import presets_for


@dataclass
class CurrRLConfig(RunFields, GRPOFields, CurriculumFields, ScheduleFields, LoRAFields):
    """Config of curriculum GRPO (see the field comments of each block)."""


def curriculum_stages(cfg) -> list[Stage]:
    """The GRPO stages of the curriculum under cfg.schedule (shared with curr-reft)."""
    if not (len(cfg.stages) == len(cfg.stage_steps) == len(cfg.stage_generations)):
        raise UserError("stages, stage_steps and stage_generations must have the same length")
    check_names("tier", cfg.stages, TIERS)
    check_schedule(cfg)
    if cfg.schedule == "bandit":
        return [grpo_stage(cfg, tuple(cfg.stages), sum(cfg.stage_steps),
                           max(cfg.stage_generations), "1-bandit")]
    names = [f"{i}-{tier}" for i, tier in enumerate(cfg.stages, 1)]
    plateau = cfg.schedule == "plateau"
    return [grpo_stage(cfg, (tier,), steps, g, name,
                       earlier=names[:i] if plateau else None, last=i == len(names) - 1)
            for i, (tier, steps, g, name)
            in enumerate(zip(cfg.stages, cfg.stage_steps, cfg.stage_generations, names))]


def grpo_stage(cfg, tiers: tuple[str, ...], steps: int, generations: int, name: str,
               earlier: list[str] | None = None, last: bool = True) -> Stage:
    """A GRPO stage on `tiers`' training samples. Under plateau (`earlier` given), its steps are
    its own plus those the earlier stages saved (read from their records, so a resumed run
    agrees), and it may end early unless it is the last."""
    def run(model: str, stage_dir, progress):
        from reftbench.training.grpo_stage import run_grpo
        from reftbench.training.schedule.policy import plateau_budget
        from reftbench.training.schedule.record import read_stage
        from reftbench.training.schedule.stages import schedule_spec
        from reftbench.training.splits import train_samples

        samples = train_samples(cfg, tiers=tiers)
        budget = steps
        if earlier is not None:
            ran = [read_stage(stage_dir.parent / n)["budget"]["steps"] for n in earlier]
            budget = plateau_budget(list(cfg.stage_steps), ran)
        spec = schedule_spec(cfg, samples, stage_dir, name,
                             ends_on_plateau=earlier is not None and not last)
        return run_grpo(cfg, model, samples, stage_dir, budget, generations, name, progress,
                        schedule=spec)
    return Stage(name, run)


TRAINER = TrainerPlugin(
    name="curr-rl",
    description="curriculum GRPO: judge, then choice, then open, each stage chained",
    config_cls=CurrRLConfig,
    presets=presets_for(CurrRLConfig),
    plan=curriculum_stages,
)
