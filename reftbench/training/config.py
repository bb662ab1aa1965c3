"""Config fields shared by the trainers, as dataclass building blocks.

A trainer's config is a flat dataclass that combines the blocks it needs (so every key is a
plain `--key value` override) and presets: `tiny` (the CPU embedded default) and
`qwen2.5-vl-3b` (the Curr-ReFT paper's settings for Qwen2.5-VL-3B, arXiv 2503.07065;
trainers/presets.py lists them).

`BOUNDS` holds every numeric field's range and every named field's choices; `validate(cfg)`
checks a resolved config against them before any model loads or any run folder is made
(a negative step count would otherwise train in TRL's epoch mode, a zero group size fail
after the model loaded).
"""

from __future__ import annotations

from dataclasses import dataclass

from reftbench.errors import UserError
from reftbench.config import SEEDS, Bound, above, at_least, between, check_bounds, one_of
from reftbench.model.load import DTYPES
from reftbench.scoring.rewards import ACCURACY_SCORES
from reftbench.samples import FAMILIES

# How a curriculum trainer moves through its tiers (ScheduleFields; docs/schedules.md).
SCHEDULES = ("fixed", "plateau", "bandit")
# The loss types TRL's GRPOTrainer (1.16) implements (it rejects another only at the first step).
LOSS_TYPES = ("grpo", "dapo", "dr_grpo", "bnpo", "cispo", "sapo", "luspo", "vespo")
# Allowed values of the fields below, by name (a field of any block; tuples item by item).
BOUNDS = {
    "seed": SEEDS, "data_seed": SEEDS, "n_train": at_least(1), "n_test": at_least(1),
    "eval_limit": at_least(1), "eval_general": at_least(0), "eval_batch_size": at_least(1),
    "eval_max_new_tokens": at_least(1),
    "dtype": one_of(*DTYPES), "max_minutes": at_least(0), "save_steps": at_least(1),
    "keep_every": at_least(0), "keep_last": at_least(0),
    "logging_steps": at_least(1),
    "lr_scheduler": one_of("constant", "cosine", "linear", "constant_with_warmup",
                           "cosine_with_restarts", "polynomial", "inverse_sqrt"),
    "grpo_steps": at_least(1), "grpo_lr": above(0), "num_generations": at_least(2),
    "prompts_per_step": at_least(1),
    "global_prompts_per_step": at_least(0), "beta": at_least(0), "temperature": above(0),
    "max_completion_length": at_least(1), "format_weight": at_least(0),
    "accuracy_weight": at_least(0), "accuracy_reward": one_of(*ACCURACY_SCORES),
    "loss_type": one_of(*LOSS_TYPES), "num_iterations": at_least(1), "epsilon": above(0),
    "sft_steps": at_least(1), "sft_lr": above(0), "sft_batch_size": at_least(1),
    "stage_steps": at_least(1), "stage_generations": at_least(2),
    "rs_samples": at_least(1), "rs_temperature": above(0), "rs_threshold": Bound(),
    "rs_prompts": at_least(1), "replay_ratio": at_least(0), "rs_sft_steps": at_least(1),
    "rs_sft_lr": above(0),
    "lora_r": at_least(0), "lora_alpha": at_least(1), "lora_dropout": Bound(0, True, 1),
    "eval_samples": at_least(0), "max_pixels": at_least(1), "min_pixels": at_least(1),
    "top_p": Bound(0, False, 1), "top_k": at_least(0), "min_p": between(0, 1),
    "repetition_penalty": above(0), "vllm_gpu_memory_utilization": Bound(0, False, 1),
    "vllm_tensor_parallel_size": at_least(1), "vllm_max_model_length": at_least(1),
    "vllm_server_port": between(1, 65535),
    "schedule": one_of(*SCHEDULES), "plateau_window": at_least(1), "plateau_min_gain": Bound(),
    "plateau_mastery": at_least(0), "plateau_min_steps": at_least(1),
    "bandit_temperature": above(0), "bandit_floor": between(0, 1), "bandit_lr": Bound(0, False, 1),
    "bandit_prior": Bound(), "skip_keep": between(0, 1),
}


def prompts_per_process(cfg, processes: int | None = None) -> int:
    """The prompts each process takes per optimiser step (see global_prompts_per_step)."""
    from reftbench.distributed import world_size

    processes = processes or world_size()
    total = getattr(cfg, "global_prompts_per_step", 0)
    if not total:
        return cfg.prompts_per_step
    if total % processes:
        raise UserError(f"global_prompts_per_step {total} does not divide among {processes} "
                        "processes: choose a multiple of the process count")
    return total // processes


def batch_record(cfg) -> dict | None:
    """The GRPO batch as run: processes, prompts per process and per step in all (the run
    record's "batch"); None for a config without GRPO."""
    from reftbench.distributed import world_size

    if not hasattr(cfg, "prompts_per_step"):
        return None
    processes, each = world_size(), prompts_per_process(cfg)
    return {"processes": processes, "prompts_per_process": each,
            "prompts_per_step": each * processes}


# List fields that must name something, and name each thing once (a family twice would
# double its training rows; no stages would train nothing and report the start model).
NAME_LISTS = {"families": "task family", "stages": "stage"}


def validate(cfg) -> None:
    """A UserError naming the first field of a trainer config outside its bound (see BOUNDS)."""
    check_bounds(cfg, BOUNDS)
    if hasattr(cfg, "global_prompts_per_step"):
        prompts_per_process(cfg)  # divides among this launch's processes
    if getattr(cfg, "keep_every", 0) % getattr(cfg, "save_steps", 1):
        raise UserError(f"config key 'keep_every' must be a multiple of save_steps "
                        f"({cfg.save_steps}): checkpoints are made every save_steps steps, "
                        f"got {cfg.keep_every}")
    if getattr(cfg, "eval_samples", 0) == 1:  # pass@K needs K >= 2 (reftbench eval --samples)
        raise UserError("config key 'eval_samples' must be 0 (greedy only) or at least 2, got 1")
    for key, kind in NAME_LISTS.items():
        names = getattr(cfg, key, None)
        if names is None:
            continue
        if not names:
            raise UserError(f"config key '{key}' names no {kind}; name at least one")
        twice = next((n for i, n in enumerate(names) if n in names[:i]), None)
        if twice is not None and key == "families":
            raise UserError(f"config key '{key}' names {twice} twice; name each once")


@dataclass
class RunFields:
    """What every trainer needs: the starting model, data, seed, output and evaluation."""

    # Starting checkpoint: "base" (the embedded base model), a preset, a folder or a hub id.
    model: str = "base"
    # Seed for model initialisation order, sampling and data shuffling.
    seed: int = 0
    # Task families to train on (every method trains on the same mix).
    families: tuple[str, ...] = FAMILIES
    # Scenes per family in the generated train split (None = default 3000).
    n_train: int | None = None
    # Scenes per family in the generated test splits used for the final evaluation and the
    # train/test overlap check (None = default 1000).
    n_test: int | None = None
    # Seed of the generated data (keep it fixed across methods).
    data_seed: int = 0
    # Real-data folder read instead of the generated splits (Curr-ReFT JSONL or a `datasets`
    # folder; see reftbench/data/refdata.py): its train rows are trained on, its id/ood rows are
    # checked for overlap and evaluated; families or tiers it lacks are skipped. "" = generated.
    data: str = ""
    # With `data`: stop at the first malformed row instead of skipping it with a warning.
    data_strict: bool = False
    # Drop the training rows that also appear in a test split (same image and question) and
    # say how many, instead of refusing to train.
    drop_overlap: bool = False
    # With `data` in the Curr-ReFT release layout (reftbench/data/release.py): the folder its images
    # are under, found by their paths' trailing components; "" = DATA/images, else DATA.
    data_image_root: str = ""
    # Evaluate the final model on every family's id and ood test split (open tier).
    evaluate: bool = True
    # Limit the final evaluation to N samples per family x split (None = all).
    eval_limit: int | None = None
    # Held-out general-mixture samples also scored in the final evaluation (0 = none).
    eval_general: int = 0
    # Batch size of the final evaluation.
    eval_batch_size: int = 64
    # Longest completion in the final evaluation, in tokens: one value for every method (and
    # for the base in `reftbench compare`/`demo`), so no method is scored with more room.
    eval_max_new_tokens: int = 48
    # Sampled completions per question in the final evaluation, for sampled accuracy and
    # pass@K beside greedy (`reftbench eval --samples`); 0 = greedy only.
    eval_samples: int = 0
    # Torch dtype for training: "float32", "bfloat16" or "float16".
    dtype: str = "float32"
    # Largest image, in pixels, after the processor's resize (Qwen2-VL family), for training,
    # sampling and the final evaluation, and saved with each checkpoint; None = the start
    # model's own (Qwen2.5-VL: about 12.8M, thousands of tokens per photo).
    max_pixels: int | None = None
    # Smallest image, in pixels, after that resize; None = the start model's own.
    min_pixels: int | None = None
    # Stop a stage after this many minutes (0 = no limit); the stage still saves its model.
    max_minutes: float = 0.0
    # Learning-rate schedule of every optimiser in the run ("constant", "cosine", "linear", or
    # another of transformers' schedules that need no extra arguments).
    lr_scheduler: str = "constant"
    # Trade compute for memory in the backward pass (GRPO and SFT stages alike).
    gradient_checkpointing: bool = False
    # Keep the vision encoder (patch embedding and blocks) frozen while training; the merger
    # (the projector into the language model) still trains. The base build's mixture sets it
    # (its tower is pretrained first); for the trainers it is a setting like any other.
    freeze_vision: bool = False
    # Save a resumable checkpoint every N optimiser steps.
    save_steps: int = 10
    # Also keep every K-th step's checkpoint as a model folder in stages/<stage>/checkpoints/
    # (K a multiple of save_steps), to evaluate along a stage or start another run from it;
    # 0 = none (only the stage's final model is kept).
    keep_every: int = 0
    # Also keep the last N checkpoints of each stage as model folders there; 0 = none.
    keep_last: int = 0
    # Log metrics every N optimiser steps.
    logging_steps: int = 5
    # Also send the training logs to these trackers ("tensorboard", "wandb"; empty = none, the
    # default). Logs go to each stage's folder; wandb runs offline unless WANDB_MODE is set.
    report_to: tuple[str, ...] = ()


@dataclass
class GRPOBudget:
    """The length and group size of one plain GRPO run (a curriculum sets them per stage
    instead: stage_steps, stage_generations)."""

    # Optimiser steps of GRPO.
    grpo_steps: int = 100
    # Completions per prompt (the group size G).
    num_generations: int = 8


@dataclass
class GRPOFields:
    """GRPO settings, passed to TRL's GRPOConfig (tests check each one arrives)."""

    # Learning rate of GRPO.
    grpo_lr: float = 5e-5
    # Prompts per optimiser step in each process (each gets num_generations completions); the
    # global batch is this times the number of processes, unless global_prompts_per_step is set.
    prompts_per_step: int = 4
    # Prompts per optimiser step over all processes together (0 = off: prompts_per_step per
    # process): each process then takes this divided by the process count, so a preset means
    # the same global batch on 1 GPU or 8 (the paper's: 8 prompts a step, one per GPU).
    global_prompts_per_step: int = 0
    # KL coefficient against the starting model (0 disables the reference model).
    beta: float = 0.0
    # Sampling temperature for rollouts.
    temperature: float = 1.0
    # The four rollout filters below reach TRL explicitly, so the checkpoint's generation_config
    # (Qwen2.5-VL-3B-Instruct ships top_k=1, top_p=0.001, repetition_penalty=1.05) cannot make
    # a group's completions identical.
    # Nucleus sampling mass of rollouts (1.0 = off).
    top_p: float = 1.0
    # Sample rollouts from the k most likely tokens only (0 = off).
    top_k: int = 0
    # Drop rollout tokens below min_p x the top token's probability (0.0 = off).
    min_p: float = 0.0
    # Penalty on tokens already generated or in the prompt (1.0 = off).
    repetition_penalty: float = 1.0
    # Longest completion, in tokens.
    max_completion_length: int = 48
    # TRL loss type, one of LOSS_TYPES ("dr_grpo" and "dapo" remove the length bias).
    loss_type: str = "grpo"
    # Optimiser steps per rollout batch (GRPO's mu): above 1, each batch of completions is
    # reused for mu steps under the clipped ratio, so `grpo_steps` optimiser steps generate
    # grpo_steps / mu batches.
    num_iterations: int = 1
    # Clipping range of the importance ratio (matters only when num_iterations > 1).
    epsilon: float = 0.2
    # Weight of the format reward (1 if the completion is <think>..</think><answer>..</answer>).
    format_weight: float = 1.0
    # Weight of the accuracy reward.
    accuracy_weight: float = 1.0
    # Which score the accuracy reward is: "accuracy" (the paper's table: set-IoU for
    # classification, partial credit for an extra label) or "strict" (the reported metric:
    # the exact set). Detection and math score the same under both.
    accuracy_reward: str = "accuracy"
    # Generate rollouts with vLLM (needs the `vllm` extra and a GPU).
    use_vllm: bool = False
    # vLLM mode: "colocate" (same process) or "server" (trl vllm-serve).
    vllm_mode: str = "colocate"
    # Colocate: share of each GPU's memory vLLM takes for its weights and KV cache (the rest is
    # left to training; TRL's default, 0.3, suits a 3B model on 80 GB cards).
    vllm_gpu_memory_utilization: float = 0.3
    # Colocate: longest prompt + completion vLLM plans for, in tokens (None = the model's own
    # maximum, which reserves far more KV cache than image prompts of ~1k tokens need).
    vllm_max_model_length: int | None = None
    # Colocate: GPUs one vLLM engine spans (must divide the number of processes).
    vllm_tensor_parallel_size: int = 1
    # Colocate: put vLLM to sleep (weights and KV cache released) after each generation, so the
    # optimiser step, and the next curriculum stage's engine, get its memory back; false is a
    # little faster per step, and the engine is then released at the end of each stage.
    vllm_sleep_mode: bool = True
    # Server: host of the `trl vllm-serve` server.
    vllm_server_host: str = "127.0.0.1"
    # Server: its port (`trl vllm-serve --port`).
    vllm_server_port: int = 8000


@dataclass
class SFTBudget:
    """The length and learning rate of the `sft` baseline (Curr-ReFT's own SFT stage has its
    own: rs_sft_steps, rs_sft_lr)."""

    # Optimiser steps of SFT.
    sft_steps: int = 100
    # Learning rate of SFT.
    sft_lr: float = 5e-5


@dataclass
class SFTFields:
    """Supervised fine-tuning settings, passed to TRL's SFTConfig."""

    # Examples per optimiser step.
    sft_batch_size: int = 16


@dataclass
class CurriculumFields:
    """The curriculum: tiers in order, and per-stage steps and group sizes."""

    # Tiers trained one after another, each stage starting from the previous checkpoint.
    stages: tuple[str, ...] = ("judge", "choice", "open")
    # Optimiser steps per stage, in the order of `stages`.
    stage_steps: tuple[int, ...] = (30, 30, 60)
    # Group size per stage (the paper uses G=2 for the choice stage).
    stage_generations: tuple[int, ...] = (8, 8, 8)

    # What a plain run's budget keys are called here (the error for `--grpo_steps` says so).
    KEY_HINTS = {
        "grpo_steps": "a curriculum sets its steps per stage: use stage_steps, e.g. 37,37,75",
        "num_generations": "a curriculum sets its group size per stage: use stage_generations",
        "sft_steps": "Curr-ReFT's SFT stage has its own length: use rs_sft_steps",
        "sft_lr": "Curr-ReFT's SFT stage has its own learning rate: use rs_sft_lr",
    }


@dataclass
class ScheduleFields:
    """Which prompts each curriculum step trains on (docs/schedules.md). Every schedule spends
    the same optimiser steps, sum(stage_steps); the run records what it generated."""

    # "fixed": each tier's stage runs its stage_steps, in order (the paper's schedule);
    # "plateau": the tiers keep their order, and a stage ends once its accuracy reward stops
    # rising or is mastered, handing its unused steps to the later stages; "bandit": one GRPO
    # run over every tier x family arm, each step's prompts drawn by a softmax over the arms'
    # recent mean absolute advantage (the Self-Evolving Curriculum's learning-gain signal).
    schedule: str = "fixed"
    # plateau: generation batches in the accuracy reward's moving average (a batch's reward
    # varies by about 0.05 on the embedded default: 10 batches keep a window's gain noise near
    # 0.025; the pilot in docs/schedules.md).
    plateau_window: int = 10
    # plateau: a stage ends when that moving average rose by less than this over one window.
    plateau_min_gain: float = 0.02
    # plateau: ... or when the moving average reached this accuracy reward (the tier is mastered).
    plateau_mastery: float = 0.9
    # plateau: optimiser steps a stage runs before it may end, and never fewer than two windows
    # (at most it runs its stage_steps plus the steps earlier stages saved; the last stage
    # always runs all that is left).
    plateau_min_steps: int = 20
    # bandit: softmax temperature over the arms' values (lower: greedier). The embedded
    # default's arms start about 0.6 apart (judge highest, choice lowest) with TD noise near
    # 0.13: 0.3 gives the best arm about 7 times the worst's share without chasing the noise.
    bandit_temperature: float = 0.3
    # bandit: smallest probability of every arm at every step (the exploration floor); at most
    # 1 / the number of arms.
    bandit_floor: float = 0.02
    # bandit: step size of each arm's value, moved towards the mean absolute advantage of its
    # latest groups (TD(0), as in the Self-Evolving Curriculum).
    bandit_lr: float = 0.3
    # bandit: the fixed schedule as a prior: a logit bonus for the arms of the tier the fixed
    # schedule would train at that step (0: every arm starts equal).
    bandit_prior: float = 0.0
    # Any schedule: count the groups whose rewards were all equal (every sample right, or every
    # sample wrong: no gradient) and draw the prompts that produced them less often afterwards.
    # Prompts are reordered, not regenerated: it costs no extra completions.
    skip_zero_spread: bool = False
    # skip_zero_spread: a prompt is drawn with probability skip_keep ** (its groups with no
    # spread so far), else passed over until the next pass through the data.
    skip_keep: float = 0.2


@dataclass
class RejectionFields:
    """Rejection-sampling self-improvement (Curr-ReFT's second stage)."""

    # Answers sampled per training prompt.
    rs_samples: int = 4
    # Sampling temperature of the rejection sampler.
    rs_temperature: float = 1.0
    # Generation engine of the rejection sampler: "auto" (vLLM when installed and on a GPU,
    # else transformers), "vllm" or "transformers".
    rs_engine: str = "auto"
    # Keep the best answer of a prompt only if its reward is at least this (format 1 +
    # accuracy 1 = 2).
    rs_threshold: float = 2.0
    # Training prompts offered to the sampler per family (None = the whole train split).
    rs_prompts: int | None = 200
    # Replay examples (general-ability data with gold answers) per kept answer.
    replay_ratio: float = 0.5
    # Your own replay data: a JSONL (or JSON array) of image/question/answer or chat `messages`
    # rows (reftbench/training/replay.py); "" = the embedded base model's generated mixture.
    replay_data: str = ""
    # Folder the replay rows' images are found under; "" = the replay file's folder.
    replay_image_root: str = ""
    # With real data (`data`) and no `replay_data`: allow replaying the embedded model's
    # generated shapes mixture (refused otherwise, before any work).
    replay_synthetic: bool = False
    # Optimiser steps of the rejection-sampling SFT.
    rs_sft_steps: int = 40
    # Learning rate of the rejection-sampling SFT (low: keep the RL gains).
    rs_sft_lr: float = 1e-5


@dataclass
class LoRAFields:
    """LoRA adapters (peft) instead of full fine-tuning; the saved stage model is always merged
    into a full model, so chaining stages and evaluation see an ordinary checkpoint."""

    # Rank of the LoRA adapters; 0 trains every weight (full fine-tuning, the paper's choice).
    lora_r: int = 0
    # LoRA scaling numerator (the update is scaled by lora_alpha / lora_r).
    lora_alpha: int = 16
    # Dropout on the adapters' input during training.
    lora_dropout: float = 0.05
    # Projections that get adapters, by module name, inside the language model only (the
    # vision tower stays frozen): attention q/k/v/o and the MLP gate/up/down.
    lora_target_modules: tuple[str, ...] = ("q_proj", "k_proj", "v_proj", "o_proj",
                                            "gate_proj", "up_proj", "down_proj")
