"""One GRPO stage through TRL's GRPOTrainer: our samples, our strict rewards, our settings.

reftbench does not re-implement GRPO, the KL term or generation: it builds TRL's GRPOConfig
from the trainer's config (every setting explicit, see `grpo_args`), hands over the dataset and
the reward functions, and saves the result as a loadable checkpoint. With `lora_r > 0` TRL
trains LoRA adapters instead (reftbench.training.lora), merged into a full model on save.
Every stage trains through reftbench.training.schedule's GRPOTrainer subclass, which records
each generation batch (arms, reward spread: the stage's schedule.json) and, under a schedule
other than the fixed one, decides which prompts each batch holds.
"""

from __future__ import annotations

import contextlib
import functools
from pathlib import Path

from reftbench.errors import UserError
from reftbench.training import trl_common
from reftbench.training.config import prompts_per_process

# What TRL's `vllm_mode` accepts: vLLM inside the training process, or a `trl vllm-serve` server.
VLLM_MODES = ("colocate", "server")


def grpo_args(cfg, out_dir: Path, steps: int, num_generations: int):
    """TRL GRPOConfig from a reftbench config (temperature, G, beta, lr and length all arrive)."""
    from trl import GRPOConfig

    if cfg.vllm_mode not in VLLM_MODES:
        raise UserError(f"vllm_mode must be one of {', '.join(VLLM_MODES)}, got '{cfg.vllm_mode}'")
    return GRPOConfig(
        **trl_common.common_args(cfg, out_dir, steps, cfg.grpo_lr),
        per_device_train_batch_size=prompts_per_process(cfg) * num_generations,
        gradient_accumulation_steps=1,
        num_generations=num_generations,
        beta=cfg.beta,
        temperature=cfg.temperature,
        top_p=cfg.top_p,
        top_k=cfg.top_k,
        min_p=cfg.min_p,
        repetition_penalty=cfg.repetition_penalty,
        max_completion_length=cfg.max_completion_length,
        loss_type=cfg.loss_type,
        num_iterations=cfg.num_iterations,
        epsilon=cfg.epsilon,
        gradient_checkpointing=cfg.gradient_checkpointing,
        use_vllm=cfg.use_vllm,
        vllm_mode=cfg.vllm_mode,
        vllm_gpu_memory_utilization=cfg.vllm_gpu_memory_utilization,
        vllm_max_model_length=cfg.vllm_max_model_length,
        vllm_tensor_parallel_size=cfg.vllm_tensor_parallel_size,
        vllm_enable_sleep_mode=cfg.vllm_sleep_mode,
        vllm_server_host=cfg.vllm_server_host,
        vllm_server_port=cfg.vllm_server_port,
        remove_unused_columns=False,
        log_completions=False,
    )


def run_grpo(cfg, model_path: str, samples: list[dict], out_dir: Path, steps: int,
             num_generations: int, stage: str, progress=None, schedule=None) -> Path:
    """Train `model_path` with GRPO on `samples` for `steps` steps; return the saved model dir.

    `schedule`: a reftbench.training.schedule.stages.ScheduleSpec (default: the config's, which
    for a config without schedule settings is the fixed schedule, only observed)."""
    from reftbench.training.datasets import grpo_dataset
    from reftbench.training.schedule.stages import schedule_spec
    from reftbench.training.schedule.trainer import ScheduledGRPOTrainer
    from reftbench.training.trl_rewards import make_reward_funcs

    if cfg.use_vllm:
        from reftbench.generation.vllm_backend import require_vllm

        require_vllm()
    schedule = schedule or schedule_spec(cfg, samples, out_dir, stage)
    args = grpo_args(cfg, out_dir, steps, num_generations)
    weights = {"format": cfg.format_weight, "accuracy": cfg.accuracy_weight}
    with vllm_pixel_limits(cfg):
        return trl_common.fit(ScheduledGRPOTrainer, cfg, args, model_path, out_dir, stage, steps,
                              progress, reward_funcs=make_reward_funcs(weights, cfg.accuracy_reward),
                              train_dataset=grpo_dataset(samples), schedule=schedule)


@contextlib.contextmanager
def vllm_pixel_limits(cfg):
    """While a trainer is built, TRL's colocated engine gets the run's image size.

    TRL builds `vllm.LLM(model=...)` from the checkpoint alone, so the engine's processor keeps
    the checkpoint's pixel bounds (Qwen2.5-VL: 12.8M) while the trainer expanded each prompt's
    image tokens at the run's `max_pixels`: a 640x640 image gives 529 tokens in the engine and
    484 in the prompt. The engine's constructor is wrapped to add the same bounds as
    `mm_processor_kwargs` (nothing changes when neither bound is set, or vLLM is absent)."""
    limits = {k: v for k, v in (("min_pixels", getattr(cfg, "min_pixels", None)),
                                ("max_pixels", getattr(cfg, "max_pixels", None))) if v}
    module = None
    if limits and getattr(cfg, "use_vllm", False) and cfg.vllm_mode == "colocate":
        import trl.generation.vllm_generation as module
    original = getattr(module, "LLM", None)
    if original is None:
        yield
        return
    module.LLM = functools.partial(original, mm_processor_kwargs=limits)
    try:
        yield
    finally:
        module.LLM = original
