"""A GRPO stage's schedule, built from the trainer's config (light: no torch at import).

    spec = schedule_spec(cfg, samples, stage_dir, "1-bandit")
    run_grpo(cfg, model, samples, stage_dir, steps, G, "1-bandit", progress, schedule=spec)

Every GRPO stage gets one: the fixed schedule only observes (TRL's sampler draws, the record
counts the groups); `skip_zero_spread` draws from the stage's rows in TRL's order, passing over
rows without reward spread; `bandit` draws arms. The curriculum's stages themselves (one per tier,
or one bandit stage over every tier) are planned in trainers/curr_rl.py.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from reftbench.errors import UserError
from reftbench.samples import TIERS
from reftbench.training.schedule.draws import DrawSettings
from reftbench.training.schedule.record import STAGE_FILE


@dataclass
class ScheduleSpec:
    """What a GRPO stage's schedule needs besides the trainer."""

    # Draw settings; `prompts` is filled in from the trainer's generation batch.
    settings: DrawSettings
    # The stage's rows: their arm ("tier/family") and sample id, in dataset order.
    row_arms: list[str]
    row_ids: list[str]
    # The arms in the curriculum's order.
    arms: list[str]
    # Where the stage's record goes (stages/<name>/schedule.json).
    record_path: Path
    # Written into the record as they are (stage, schedule name, skip_zero_spread).
    meta: dict = field(default_factory=dict)
    # plateau: {"window", "min_gain", "mastery", "min_steps"}; None: the stage runs all its steps.
    plateau: dict | None = None
    # bandit prior: the tier the fixed schedule would train at each optimiser step (0-based).
    prior_tiers: list[str] = field(default_factory=list)


def arm_name(sample: dict) -> str:
    """A sample's arm: "tier/family" (e.g. "judge/math")."""
    return f"{sample['tier']}/{sample['family']}"


def schedule_spec(cfg, samples: list[dict], stage_dir: Path, stage: str,
                  ends_on_plateau: bool = False) -> ScheduleSpec:
    """The schedule of one GRPO stage over `samples` (a config without ScheduleFields, such as
    the plain grpo trainer's, is the fixed schedule)."""
    schedule = getattr(cfg, "schedule", "fixed")
    skip = getattr(cfg, "skip_zero_spread", False)
    mode = "bandit" if schedule == "bandit" else "pool" if skip else "observe"
    settings = DrawSettings(mode=mode, prompts=0, seed=cfg.seed, skip=skip,
                            keep=getattr(cfg, "skip_keep", 1.0),
                            temperature=getattr(cfg, "bandit_temperature", 1.0),
                            floor=getattr(cfg, "bandit_floor", 0.0),
                            lr=getattr(cfg, "bandit_lr", 0.0),
                            prior=getattr(cfg, "bandit_prior", 0.0))
    tiers = tuple(getattr(cfg, "stages", TIERS))
    present = {arm_name(s) for s in samples}
    arms = [f"{t}/{f}" for t in tiers for f in cfg.families if f"{t}/{f}" in present]
    plateau = {"window": cfg.plateau_window, "min_gain": cfg.plateau_min_gain,
               "mastery": cfg.plateau_mastery, "min_steps": cfg.plateau_min_steps} \
        if ends_on_plateau else None
    prior = [t for t, n in zip(tiers, getattr(cfg, "stage_steps", ())) for _ in range(n)] \
        if schedule == "bandit" else []
    return ScheduleSpec(settings, [arm_name(s) for s in samples], [s["id"] for s in samples],
                        arms, Path(stage_dir) / STAGE_FILE,
                        {"stage": stage, "schedule": schedule, "skip_zero_spread": skip},
                        plateau, prior)


def check_schedule(cfg) -> None:
    """A schedule's settings that only make sense together (UserError before any work)."""
    arms = len(cfg.stages) * len(cfg.families)
    if cfg.schedule == "bandit" and cfg.bandit_floor * arms > 1:
        raise UserError(f"bandit_floor {cfg.bandit_floor} x {arms} arms is above 1: "
                        f"use at most {1 / arms:.3f}")
    if (cfg.schedule != "fixed" or cfg.skip_zero_spread) and cfg.save_steps % cfg.num_iterations:
        raise UserError(f"save_steps ({cfg.save_steps}) must be a multiple of num_iterations "
                        f"({cfg.num_iterations}) under schedule {cfg.schedule} or "
                        "skip_zero_spread: a checkpoint must fall between generation batches")
