"""Load a model and its processor by one name: base, a preset, a checkpoint folder, or a hub id.

    model, processor = load_model("base")                 # the trained embedded model
    model, processor = load_model("random-tiny")          # built once into models_dir()
    model, processor = load_model("smol")                 # SmolLM2-135M + vision (`smol` extra)
    model, processor = load_model("outputs/run1/final")   # any saved checkpoint folder
    model, processor = load_model("Qwen/Qwen2.5-VL-3B-Instruct", dtype="bfloat16")

What a name means is decided in reftbench/model/names.py; this module loads what it points at.

Every route ends in transformers' Auto classes, so the embedded model and a real Qwen2.5-VL go
through the same code: Qwen2.5-VL, Qwen2-VL, LLaVA-1.5, LLaVA-NeXT and SmolVLM (Idefics3) are
tested on tiny random checkpoints (tests/test_archs.py). Their image processors load with the PIL
backend when torchvision is absent; Qwen2-VL-family processors also need torchvision for their
video half, so without it we fall back to `ImageOnlyQwenProcessor`. Importing this module is
cheap (no torch).
"""

import contextlib
import os
from pathlib import Path

from reftbench.errors import UserError
from reftbench.model.names import resolve_model

# Model types whose processor we may replace by the image-only one when torchvision is missing,
# and the stock processor class that one then saves as (so the checkpoint stays standard).
QWEN_VL_TYPES = {"qwen2_vl": "Qwen2VLProcessor", "qwen2_5_vl": "Qwen2_5_VLProcessor"}
# Torch dtypes a model may be loaded in, by name ("auto" too: the checkpoint's own).
DTYPES = ("float32", "bfloat16", "float16")
# The environment switch accelerate sets for FSDP's rank-0-only loading (read by transformers).
FSDP_RAM_EFFICIENT = "FSDP_CPU_RAM_EFFICIENT_LOADING"


def _model_type(where: str) -> str | None:
    """The checkpoint's model_type, or None when its config cannot be read."""
    from transformers import AutoConfig

    try:
        return AutoConfig.from_pretrained(where).model_type
    except (OSError, ValueError):
        return None


def load_processor(where: str):
    """The processor of a resolved checkpoint, left-padding for generation."""
    from transformers import AutoProcessor

    from reftbench.model.processor import ImageOnlyQwenProcessor

    processor, failure = None, None
    if Path(where, "reftbench.json").is_file():
        processor = ImageOnlyQwenProcessor.from_pretrained(where)
    else:
        try:
            processor = AutoProcessor.from_pretrained(where)
        except (OSError, ImportError, ValueError) as err:
            failure = err
        # AutoProcessor fails on Qwen-VL without torchvision (video processor), or may hand
        # back a bare tokenizer when it finds no processor config: neither can read images.
        if not hasattr(processor, "image_processor"):
            model_type = _model_type(where)
            if model_type in QWEN_VL_TYPES:
                processor = ImageOnlyQwenProcessor.from_pretrained(where)
                processor.stock_class = QWEN_VL_TYPES[model_type]
            else:
                reason = str(failure).splitlines()[0] if failure else "no image processor found"
                raise UserError(f"cannot load an image processor for {where}: {reason}")
    processor.tokenizer.padding_side = "left"
    return processor


def check_dtype(dtype) -> None:
    """A UserError unless `dtype` is None, "auto", a torch dtype or one of DTYPES by name."""
    if dtype is None or dtype == "auto" or dtype in DTYPES or not isinstance(dtype, str):
        return
    raise UserError(f"unknown dtype {dtype!r}; choose from auto, {', '.join(DTYPES)}")


def load_model(name_or_path: str, dtype=None, device: str | None = "cpu", training: bool = False):
    """(model, processor) for a preset name, a checkpoint folder, or a hub id.

    `dtype` is a torch dtype, its name ("bfloat16") or "auto"; None keeps transformers'
    default (the checkpoint's own dtype). The model is returned in eval mode on `device`.

    `training=True` is the trainer's load: it is sharded the way the launcher asks (DeepSpeed
    ZeRO-3 partitions it while loading; FSDP's cpu_ram_efficient_loading may leave weights on
    the meta device on ranks > 0 until the trainer broadcasts rank 0's), and placement is left to
    the trainer (`device` is ignored). Every other load (evaluation, sampling, merging) gets a
    whole model on every rank, whatever the training state left switched on (see `whole_model`).
    """
    from transformers import AutoModelForImageTextToText

    from safetensors import SafetensorError

    check_dtype(dtype)
    where = resolve_model(str(name_or_path))
    kwargs = {} if dtype is None else {"dtype": dtype}
    with contextlib.nullcontext() if training else whole_model():
        try:
            model = AutoModelForImageTextToText.from_pretrained(where, **kwargs)
        except SafetensorError as err:  # a truncated file, or one with a garbage header
            raise UserError(f"cannot load model {name_or_path}: its weights are damaged "
                            f"({str(err).splitlines()[0]}); copy or save the checkpoint "
                            "again") from err
        except (OSError, ValueError) as err:
            raise UserError(f"cannot load model {name_or_path}: "
                            f"{str(err).splitlines()[0]}") from err
    processor = load_processor(where)
    if training:
        return model, processor
    return (model if device is None else model.to(device)).eval(), processor


@contextlib.contextmanager
def whole_model():
    """Load whole, unsharded models inside this block, on every rank.

    After a training stage, accelerate's state keeps its DeepSpeed plugin alive, and with it
    transformers' ZeRO-3 switch: a load would be partitioned and wait for every rank. Under FSDP
    with cpu_ram_efficient_loading, ranks > 0 would leave any weight the checkpoint lacks on the
    meta device. Both switches are turned off for the block and restored after it, so the next
    stage's trainer finds the state as training left it.
    """
    from transformers.integrations import deepspeed as hf_deepspeed

    saved_ref = hf_deepspeed._hf_deepspeed_config_weak_ref
    saved_env = os.environ.get(FSDP_RAM_EFFICIENT)
    hf_deepspeed.unset_hf_deepspeed_config()
    if saved_env is not None:
        os.environ[FSDP_RAM_EFFICIENT] = "false"
    try:
        yield
    finally:
        hf_deepspeed._hf_deepspeed_config_weak_ref = saved_ref
        if saved_env is not None:
            os.environ[FSDP_RAM_EFFICIENT] = saved_env


def freeze_encoder(model) -> None:
    """Stop training a Qwen2.5-VL's vision encoder (patch embedding and blocks); the merger,
    which projects image tokens into the language model, stays trainable."""
    visual = model.model.visual
    for module in (visual.patch_embed, visual.blocks):
        module.requires_grad_(False)
