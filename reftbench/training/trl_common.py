"""What the GRPO and SFT stage runners share: trainer arguments, callbacks, resume, saving."""

from __future__ import annotations

import gc
import os
import shutil
from pathlib import Path

import torch

from reftbench import fileio
from reftbench.errors import UserError
from reftbench.training.callbacks import MetricsLog, ProgressLine, ReadableCheckpoints, TimeLimit
from reftbench.distributed import TIMEOUT

# What `report_to` accepts, and the package each one needs.
REPORTERS = {"tensorboard": "tensorboard", "wandb": "wandb"}


def common_args(cfg, out_dir: Path, steps: int, lr: float) -> dict:
    """transformers.TrainingArguments fields every stage sets explicitly (TRL's defaults are
    tuned for large pretrained models: bf16 on, gradient checkpointing on, lr 1e-6)."""
    on_gpu = torch.cuda.is_available()
    return dict(
        output_dir=str(out_dir / "trainer"),
        max_steps=steps,
        learning_rate=lr,
        lr_scheduler_type=cfg.lr_scheduler,
        warmup_steps=0,
        seed=cfg.seed,
        data_seed=cfg.seed,
        bf16=cfg.dtype == "bfloat16",
        fp16=cfg.dtype == "float16",
        use_cpu=not on_gpu,
        logging_steps=cfg.logging_steps,
        save_strategy="steps",
        save_steps=cfg.save_steps,
        save_total_limit=1,
        report_to=reporters(cfg, out_dir),
        # One tracker run per stage ("<run>-<stage>"), grouped under the training run.
        run_name=f"{out_dir.parent.parent.name}-{out_dir.name}",
        disable_tqdm=True,
        dataloader_num_workers=0,
        ddp_timeout=int(TIMEOUT.total_seconds()),
    )


def training_dtype(cfg) -> str:
    """The dtype the trainer loads the weights in: float32 whenever bf16/fp16 is asked for.

    Mixed precision keeps fp32 weights and computes in bf16 (autocast under DDP or one device,
    FSDP's mixed-precision policy, DeepSpeed's bf16 mode); weights loaded in bf16 would have no
    fp32 copy under DDP, and at lr 1e-6 most updates would round away.
    """
    return "float32" if cfg.dtype in ("bfloat16", "float16") else cfg.dtype


def check_reporters(cfg) -> list[str]:
    """The `report_to` names, checked: known, and their package installed (UserError if not)."""
    import importlib.util

    from reftbench.registry import check_names

    names = [n for n in getattr(cfg, "report_to", ()) if n != "none"]
    for name in check_names("report_to", names, [*REPORTERS, "none"]):
        if importlib.util.find_spec(REPORTERS[name]) is None:
            raise UserError(f"report_to {name} needs the {REPORTERS[name]} package: "
                            f"pip install {REPORTERS[name]}")
    return names


def reporters(cfg, out_dir: Path) -> list[str]:
    """TRL's `report_to` list; logs go beside the stage (its trainer/ folder is removed after it).

    wandb runs offline unless WANDB_MODE says otherwise (`wandb sync` uploads a run later).
    """
    names = check_reporters(cfg)
    if "tensorboard" in names:
        os.environ["TENSORBOARD_LOGGING_DIR"] = str(out_dir / "tensorboard")
    if "wandb" in names:
        os.environ.setdefault("WANDB_MODE", "offline")
        os.environ["WANDB_DIR"] = str(out_dir)
        os.environ["WANDB_RUN_GROUP"] = out_dir.parent.parent.name
    return names


def finish_trackers(cfg) -> None:
    """End the stage's wandb run, so the next stage starts its own (with its own step count
    and config) instead of writing into this one."""
    if "wandb" in getattr(cfg, "report_to", ()):
        import importlib

        wandb = importlib.import_module("wandb")  # optional: check_reporters found it installed
        if wandb.run is not None:
            wandb.finish()
            wandb.teardown()  # the next stage's run reads its own WANDB_DIR


def callbacks(cfg, out_dir: Path, stage: str, steps: int, progress, source: str = "") -> list:
    """Metrics log, progress line, checkpoints' modes and (if set) the time limit and the
    checkpoints kept."""
    from reftbench.training.keep_checkpoints import KeepCheckpoints

    log = MetricsLog(out_dir / "metrics.jsonl", stage)
    found = [log, ProgressLine(progress, stage, steps, log), ReadableCheckpoints()]
    if cfg.max_minutes:
        found.append(TimeLimit(cfg.max_minutes))
    if getattr(cfg, "keep_every", 0) or getattr(cfg, "keep_last", 0):
        found.append(KeepCheckpoints(out_dir, cfg.keep_every, cfg.keep_last, source))
    return found


def latest_checkpoint(out_dir: Path) -> str | None:
    """The newest TRL/transformers checkpoint folder of a stage, to resume from."""
    found = sorted((out_dir / "trainer").glob("checkpoint-*"),
                   key=lambda p: int(p.name.split("-")[-1]))
    return str(found[-1]) if found else None


def whole_weights(checkpoint: str | None) -> str | None:
    """The checkpoint folder if it holds the full model in transformers' format (not an
    adapter, nor FSDP shards or a DeepSpeed engine state, which the Trainer reloads itself)."""
    if checkpoint is None:
        return None
    folder = Path(checkpoint)
    if any(folder.glob("global_step*")) or any(folder.glob("pytorch_model_fsdp*")):
        return None
    if any((folder / name).exists() for name in ("model.safetensors",
                                                  "model.safetensors.index.json")):
        return checkpoint
    return None


def quiet(trainer) -> None:
    """Drop transformers' dict-printing callback: our progress line replaces it."""
    from transformers.trainer_callback import PrinterCallback, ProgressCallback

    trainer.remove_callback(PrinterCallback)
    trainer.remove_callback(ProgressCallback)


def save_model(trainer, processor, source: str, out_dir: Path, lora: bool = False,
               dtype: str | None = None) -> Path:
    """Save the trained model + processor (safetensors) with reftbench.json, all or nothing:
    written to model.tmp, then renamed, so a kill never leaves a half-saved model.

    Every process calls this (DeepSpeed ZeRO-3 and FSDP gather the sharded weights inside
    `trainer.save_model`); only the main process writes files, the others wait for it. A LoRA
    run saves its adapter to `adapter/` and merges it into a full copy of `source`.
    """
    from reftbench.distributed import barrier, is_main

    model_dir, tmp = out_dir / "model", out_dir / "model.tmp"
    if is_main():
        shutil.rmtree(tmp, ignore_errors=True)
    trainer.save_model(str(out_dir / "adapter" if lora else tmp))
    if is_main():
        if lora:
            from reftbench.training.lora import merge_adapter

            fileio.follow_umask_tree(out_dir / "adapter")
            merge_adapter(source, out_dir / "adapter", tmp, dtype)
        processor.save_pretrained(str(tmp))
        mark_dtype(tmp, dtype)
        marker = Path(source) / "reftbench.json"
        if marker.exists():
            shutil.copy(marker, tmp / "reftbench.json")
        fileio.follow_umask_tree(tmp)  # safetensors writes the weights 0600 whatever the umask
        shutil.rmtree(model_dir, ignore_errors=True)
        tmp.rename(model_dir)
    barrier()
    return model_dir


def mark_dtype(model_dir: Path, dtype: str | None) -> None:
    """Record the training dtype in a saved model's config.json, so a later load with the
    checkpoint's own dtype (`reftbench eval --dtype auto`) uses it, as the run's own evaluation
    did. The weights stay in float32, the optimiser's master copy: in bf16 a stage's small
    updates (lr 1e-6) would round away before the next stage starts from them."""
    if dtype not in ("bfloat16", "float16"):
        return
    import json

    path = Path(model_dir) / "config.json"
    config = json.loads(path.read_text())
    config["dtype"] = dtype
    path.write_text(json.dumps(config, indent=2) + "\n")


def fit(trainer_cls, cfg, args, model_path: str, out_dir: Path, stage: str, steps: int,
        progress, **trainer_kwargs) -> Path:
    """Load the model, build a TRL trainer around it (LoRA if configured), train (resuming
    from the stage's latest checkpoint), save; the part GRPO and SFT stages share.

    `args` must be built before this call: under DeepSpeed ZeRO-3 they switch on partitioned
    loading of the model."""
    from reftbench.model.load import load_model
    from reftbench.model.names import resolve_model
    from reftbench.model.processor import set_image_pixels
    from reftbench.training.lora import lora_config

    checkpoint = latest_checkpoint(out_dir)
    # A full-weight checkpoint is loaded the way any saved model is (with the architecture's
    # key mapping); the Trainer's own reload matches keys verbatim, and a saved Qwen2.5-VL
    # (visual.*, model.layers.*) matches none of the live model's, so it would resume from
    # the stage's starting weights with a warning. Adapters and FSDP/DeepSpeed states stay
    # with the Trainer, which reads them in their own formats.
    weights_from = None if getattr(cfg, "lora_r", 0) else whole_weights(checkpoint)
    model, processor = load_model(weights_from or model_path, dtype=training_dtype(cfg),
                                  training=True)
    # TRL builds the KL reference model from the config's `_name_or_path`: it must be the
    # stage's input model, not the mid-stage checkpoint a resume loaded the weights from.
    model.config._name_or_path = resolve_model(model_path)
    set_image_pixels(processor, cfg.min_pixels, cfg.max_pixels)  # saved with the model below
    peft_config = lora_config(cfg, model)
    if cfg.freeze_vision:
        from reftbench.model.load import freeze_encoder

        freeze_encoder(model)
    trainer = trainer_cls(model=model, args=args, processing_class=processor,
                          callbacks=callbacks(cfg, out_dir, stage, steps, progress,
                                              resolve_model(model_path)),
                          peft_config=peft_config, **trainer_kwargs)
    quiet(trainer)
    if weights_from:
        trainer._load_from_checkpoint = lambda *a, **k: None  # weights are loaded already
    trainer.train(resume_from_checkpoint=checkpoint)
    finish_trackers(cfg)
    saved = save_model(trainer, processor, model_path, out_dir,
                       lora=peft_config is not None, dtype=cfg.dtype)
    release(trainer)
    del trainer, model
    free_device_memory()
    return saved


def release(trainer) -> None:
    """Let go of what a finished stage holds on the device, before the next stage loads: TRL's
    colocated vLLM engine (a new one is built per stage) and the accelerator's references to the
    model, optimiser and DeepSpeed engine."""
    from reftbench.generation.vllm_backend import release_engine

    engine = getattr(trainer, "vllm_generation", None)
    if engine is not None and getattr(engine, "llm", None) is not None:
        release_engine(engine.llm, asleep=getattr(engine, "_llm_weights_sleeping", False))
        engine.llm = None
    # Server mode: close this stage's weight-sync channel (TRL closes it only at exit), so the
    # next stage's trainer can open its own to the same server.
    client = getattr(engine, "vllm_client", None)
    if client is not None:
        client.close_communicator()
        engine.vllm_client = None
    trainer.accelerator.free_memory()


def free_device_memory() -> None:
    """Collect dropped objects and hand cached CUDA blocks back to the device."""
    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
