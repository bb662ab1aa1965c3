"""The trainer plugin contract: what a file in `trainers/` exports as `TRAINER`.

    TRAINER = TrainerPlugin(name="sft", description="...", config_cls=SFTRunConfig,
                            presets={"tiny": {...}, "qwen2.5-vl-3b": {...}}, plan=plan)

`plan(cfg)` returns the ordered list of `reftbench.training.pipeline.Stage`s; everything else
(config resolution, checks, resume, evaluation, plots) is done once, in `reftbench.training.run`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable


@dataclass
class TrainerPlugin:
    """A named training method."""

    # Command-line name (kebab-case), e.g. "curr-reft".
    name: str
    # One line for `reftbench train --list`.
    description: str
    # The config dataclass (every field commented).
    config_cls: type
    # Preset name -> field overrides; must include "tiny" and "qwen2.5-vl-3b".
    presets: dict
    # cfg -> list of Stage.
    plan: Callable
