"""One supervised stage through TRL's SFTTrainer (completion-only loss on image prompts).

Used by the `sft` baseline (gold open-tier answers), by the base-model builder and by
Curr-ReFT's rejection-sampling stage (kept answers mixed with replay examples). With
`lora_r > 0` it trains LoRA adapters, merged into a full model on save (reftbench.training.lora).
"""

from __future__ import annotations

from pathlib import Path

from reftbench.training import trl_common


def sft_args(cfg, out_dir: Path, steps: int, lr: float, batch_size: int):
    """TRL SFTConfig from a reftbench config."""
    from trl import SFTConfig

    return SFTConfig(
        **trl_common.common_args(cfg, out_dir, steps, lr),
        per_device_train_batch_size=batch_size,
        gradient_accumulation_steps=1,
        gradient_checkpointing=getattr(cfg, "gradient_checkpointing", False),
        max_length=None,
        remove_unused_columns=False,
        dataset_kwargs={"skip_prepare_dataset": False},
    )


def run_sft(cfg, model_path: str, dataset, out_dir: Path, steps: int, lr: float,
            batch_size: int, stage: str, progress=None, trainer_cls=None) -> Path:
    """Fine-tune `model_path` on a prompt/completion dataset; return the saved model dir.
    `trainer_cls` replaces TRL's SFTTrainer (a subclass of it, e.g. the base build's
    rehearsing trainer)."""
    from trl import SFTTrainer

    args = sft_args(cfg, out_dir, steps, lr, batch_size)
    return trl_common.fit(trainer_cls or SFTTrainer, cfg, args, model_path, out_dir, stage, steps,
                          progress, train_dataset=dataset)
