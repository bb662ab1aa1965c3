"""`curr-reft`: the full method: curriculum GRPO, then rejection-sampling SFT with replay.

Stage 1 is `curr-rl` (judge -> choice -> open, under its `schedule`). Stage 2 samples
`rs_samples` answers per training prompt from the RL model, keeps the best answer of each prompt
when it has the full format and a reward >= `rs_threshold`, mixes those with replay examples of
the base model's general abilities (`replay_ratio` per kept answer), and runs a short
low-learning-rate SFT.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from reftbench.training.config import (CurriculumFields, GRPOFields, LoRAFields, RejectionFields,
                                       RunFields, ScheduleFields, SFTFields)
from reftbench.training.pipeline import Stage
from reftbench.training.plugin import TrainerPlugin
from trainers.curr_rl import curriculum_stages
from trainers.presets import presets_for


@dataclass
class CurrReFTConfig(RunFields, GRPOFields, CurriculumFields, ScheduleFields, RejectionFields,
                     SFTFields, LoRAFields):
    """Config of Curr-ReFT (see the field comments of each block)."""


def rejection_stage(cfg: CurrReFTConfig, index: int) -> Stage:
    """Sample, filter, mix with replay, fine-tune."""
    def run(model: str, stage_dir, progress):
        import torch

        from reftbench.generation.backends import load_backend
        from reftbench.model.processor import set_image_pixels
        from reftbench.training.datasets import sft_dataset, target_completion
        from reftbench.distributed import device, is_main, rank
        from reftbench.training.rejection import sample_and_filter
        from reftbench.training.sft_stage import run_sft
        from reftbench.training.splits import replay_samples, train_samples

        torch.manual_seed(cfg.seed + rank())  # each rank samples its own prompts
        prompts = train_samples(cfg, tiers=tuple(cfg.stages), limit_per_family=cfg.rs_prompts,
                                shuffle_seed=cfg.seed)
        # A whole model on this rank's GPU (vLLM when installed), whatever sharding training uses.
        backend = load_backend(model, device(), cfg.dtype, cfg.eval_batch_size, cfg.rs_engine)
        if getattr(backend, "processor", None) is not None:
            set_image_pixels(backend.processor, cfg.min_pixels, cfg.max_pixels)
        kept = sample_and_filter(backend, prompts, cfg.rs_samples, cfg.rs_temperature,
                                 cfg.rs_threshold, stage_dir / "samples.jsonl",
                                 cfg.max_completion_length, progress)
        if hasattr(backend, "close"):  # the SFT trainer below needs the memory
            backend.close()
        del backend
        if not kept:
            # Nothing reached the bar: fine-tuning on replay alone would only pull the model
            # back towards the base, so the RL model goes on unchanged (the log says so).
            if is_main():
                (stage_dir / "NOTHING_KEPT").write_text("no sampled answer reached rs_threshold\n")
            return Path(model)
        replay = replay_samples(cfg, round(cfg.replay_ratio * len(kept)))
        if is_main():  # which replay this stage trained on
            from reftbench import fileio

            fileio.write_json(stage_dir / "replay.json", {
                "source": cfg.replay_data or "generated general mixture (synthetic shapes)",
                "rows": len(replay), "text_only": sum(not r.get("image_path") for r in replay),
                "kept_answers": len(kept)})
        data = sft_dataset([k["sample"] for k in kept] + replay,
                           [k["completion"] for k in kept] + [target_completion(r) for r in replay])
        return run_sft(cfg, model, data, stage_dir, cfg.rs_sft_steps, cfg.rs_sft_lr,
                       cfg.sft_batch_size, "rs-sft", progress)

    return Stage(f"{index}-rejection-sft", run)


def plan(cfg: CurrReFTConfig) -> list[Stage]:
    """The curriculum stages, then the rejection-sampling SFT stage."""
    stages = curriculum_stages(cfg)
    return stages + [rejection_stage(cfg, len(stages) + 1)]


TRAINER = TrainerPlugin(
    name="curr-reft",
    description="curr-rl, then rejection-sampling SFT with replay (the full Curr-ReFT)",
    config_cls=CurrReFTConfig,
    presets=presets_for(CurrReFTConfig),
    plan=plan,
)
