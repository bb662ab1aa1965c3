"""LoRA (peft) for the stage runners: the adapter config, and merging it back into a full model.

    peft_config = lora_config(cfg, model)        # None when cfg.lora_r == 0 (full fine-tuning)
    GRPOTrainer(model, ..., peft_config=peft_config)
    merge_adapter(source_model, adapter_dir, out_dir, dtype)

TRL wraps the model with `peft_config` itself (and, with beta > 0, uses the adapter-disabled
model as the KL reference, so no second model is loaded). A stage always saves a full, merged
model, because the next stage, the rejection sampler and the evaluator load plain checkpoints.
The merge is done from the saved adapter files rather than the in-memory model: under DeepSpeed
ZeRO-3 or FSDP the in-memory weights are sharded, while `trainer.save_model` gathers them.
"""

from __future__ import annotations

import re
from pathlib import Path

from reftbench.errors import UserError


def lora_config(cfg, model):
    """A peft LoraConfig from the config's LoRA fields, or None for full fine-tuning.

    Adapters go on the named projections of the language model only: the vision tower's MLP
    uses the same names (gate_proj, ...), and the paper's recipe leaves vision alone.
    """
    rank = getattr(cfg, "lora_r", 0)  # configs without the LoRA block (the base builder)
    if rank == 0:
        return None
    if rank < 0:
        raise UserError(f"lora_r must be 0 (full fine-tuning) or a positive rank, got {rank}")
    names = tuple(cfg.lora_target_modules)
    if not names:
        raise UserError("lora_r > 0 needs at least one module name in lora_target_modules")
    from peft import LoraConfig

    module_names = [n for n, _ in model.named_modules()]
    scope = language_model_prefix(model)
    pattern = (re.escape(scope) + r"\..*\." if scope else r"(.*\.)?") + \
        "(" + "|".join(map(re.escape, names)) + ")"
    if not any(re.fullmatch(pattern, n) for n in module_names):
        raise UserError(f"lora_target_modules {', '.join(names)} match no module of the "
                        f"language model; name its linear layers (e.g. q_proj, v_proj)")
    return LoraConfig(r=rank, lora_alpha=cfg.lora_alpha, lora_dropout=cfg.lora_dropout,
                      target_modules=pattern, bias="none")


def language_model_prefix(model) -> str:
    """Module path of the language model inside a VLM ("model.language_model" for Qwen2.5-VL
    and LLaVA, "model.text_model" for Idefics3/SmolVLM), or "" when there is none to find."""
    try:
        decoder = model.get_decoder()
    except (AttributeError, NotImplementedError):
        return ""
    return next((n for n, m in model.named_modules() if m is decoder and n), "")


def merge_adapter(source: str, adapter_dir: Path, out_dir: Path, dtype=None) -> None:
    """Load `source`, apply the adapter saved in `adapter_dir`, merge it, save to `out_dir`."""
    from peft import PeftModel

    from reftbench.model.load import load_model

    # Only the main process merges; load_model's whole (not ZeRO-3 partitioned) load is what
    # keeps it from waiting for the other ranks.
    base, _ = load_model(source, dtype=dtype)
    merged = PeftModel.from_pretrained(base, str(adapter_dir)).merge_and_unload()
    merged.save_pretrained(str(out_dir))
