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
        gradient_checkpointing=False,
        max_length=None,
        remove_unused_columns=False,
        dataset_kwargs={"skip_prepare_dataset": False},
    )


def run_sft(cfg, model_path: str, dataset, out_dir: Path, steps: int, lr: float,
            batch_size: int, stage: str, progress=None) -> Path:
    """Fine-tune `model_path` on a prompt/completion dataset; return the saved model dir."""
    from trl import SFTTrainer

    from reftbench.model.load import load_model
    from reftbench.training.lora import lora_config

    # Arguments before the model: under DeepSpeed ZeRO-3 they switch on partitioned loading.
    args = sft_args(cfg, out_dir, steps, lr, batch_size)
    model, processor = load_model(model_path, dtype=cfg.dtype)
    peft_config = lora_config(cfg, model)
    trainer = SFTTrainer(
        model=model,
        args=args,
        train_dataset=dataset,
        processing_class=processor,
        callbacks=trl_common.callbacks(cfg, out_dir, stage, steps, progress),
        peft_config=peft_config,
    )
    trl_common.quiet(trainer)
    trainer.train(resume_from_checkpoint=trl_common.latest_checkpoint(out_dir))
    return trl_common.save_model(trainer, processor, model_path, out_dir,
                                 lora=peft_config is not None, dtype=cfg.dtype)
