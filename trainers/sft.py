"""`sft`: supervised fine-tuning on the open-tier training answers (the paper's SFT baseline).

One stage: TRL's SFTTrainer on prompt -> `<think>..</think><answer>gold</answer>`.
"""

from __future__ import annotations

from dataclasses import dataclass

from reftbench.training.config import LoRAFields, RunFields, SFTBudget, SFTFields
from reftbench.training.pipeline import Stage
from reftbench.training.plugin import TrainerPlugin
from trainers.presets import presets_for


@dataclass
class SFTRunConfig(RunFields, SFTBudget, SFTFields, LoRAFields):
    """Config of the SFT baseline (see the field comments of each block)."""


def plan(cfg: SFTRunConfig) -> list[Stage]:
    """A single SFT stage on the open tier."""
    def run(model: str, stage_dir, progress):
        from reftbench.training.datasets import sft_dataset
        from reftbench.training.sft_stage import run_sft
        from reftbench.training.splits import train_samples

        data = sft_dataset(train_samples(cfg, tiers=("open",)))
        return run_sft(cfg, model, data, stage_dir, cfg.sft_steps, cfg.sft_lr,
                       cfg.sft_batch_size, "sft", progress)

    return [Stage("1-sft", run)]


TRAINER = TrainerPlugin(
    name="sft",
    description="supervised fine-tuning on the open-tier answers (the paper's SFT baseline)",
    config_cls=SFTRunConfig,
    presets=presets_for(SFTRunConfig),
    plan=plan,
)
