"""Load a model and its processor by one name: a preset, a checkpoint folder, or a hub id.

    model, processor = load_model("tiny")                 # built once into models_dir()/tiny
    model, processor = load_model("smol")                 # SmolLM2-135M + vision (`smol` extra)
    model, processor = load_model("results/run1/final")   # any saved checkpoint folder
    model, processor = load_model("Qwen/Qwen2.5-VL-3B-Instruct", dtype="bfloat16")

Every route ends in transformers' Auto classes, so the embedded model and a real Qwen2.5-VL go
through the same code: Qwen2.5-VL, Qwen2-VL, LLaVA-1.5, LLaVA-NeXT and SmolVLM (Idefics3) are
tested on tiny random checkpoints (tests/test_archs.py). Their image processors load with the PIL
backend when torchvision is absent; Qwen2-VL-family processors also need torchvision for their
video half, so without it we fall back to `ImageOnlyQwenProcessor`. Importing this module is
cheap (no torch).
"""

import contextlib
import json
import os
import re
import shutil
import tempfile
from pathlib import Path

from reftbench.errors import UserError
from reftbench.model.presets import PRESETS, PRETRAINED_PRESETS, preset_dict
from reftbench.paths import models_dir

# The preset builds are always made from this seed, so "tiny" means the same weights everywhere.
PRESET_SEED = 0
# Model types whose processor we may replace by the image-only one when torchvision is missing,
# and the stock processor class that one then saves as (so the checkpoint stays standard).
QWEN_VL_TYPES = {"qwen2_vl": "Qwen2VLProcessor", "qwen2_5_vl": "Qwen2_5_VLProcessor"}
# Torch dtypes a model may be loaded in, by name ("auto" too: the checkpoint's own).
DTYPES = ("float32", "bfloat16", "float16")
# "owner/name": what a hub id looks like (a missing local path otherwise gets a clear error).
HUB_ID = re.compile(r"^[\w.-]+/[\w.-]+$")
# The environment switch accelerate sets for FSDP's rank-0-only loading (read by transformers).
FSDP_RAM_EFFICIENT = "FSDP_CPU_RAM_EFFICIENT_LOADING"

__all__ = ["PRESETS", "is_preset", "preset_path", "ensure_preset", "load_model", "load_processor",
           "whole_model"]


def is_preset(name: str) -> bool:
    """True for the names of embedded presets ("micro", "tiny", "small", "smol")."""
    return name in PRESETS or name in PRETRAINED_PRESETS


def preset_names() -> str:
    """Every preset name, for error messages."""
    return ", ".join([*PRESETS, *PRETRAINED_PRESETS])


def preset_path(name: str) -> Path:
    """Where the cached build of preset `name` lives."""
    return models_dir() / name


def _is_current(folder: Path, name: str) -> bool:
    """True when `folder` holds a complete build of `name` by this version of the builder."""
    from reftbench.model.build import BUILD_VERSION

    info_file = folder / "reftbench.json"
    if not info_file.is_file():
        return False
    info = json.loads(info_file.read_text())
    return (info.get("build_version") == BUILD_VERSION
            and info.get("preset_config") == preset_dict(name))


def build_once(target: Path, is_current, build) -> Path:
    """`target`, made by `build(folder)` unless `is_current(target)` already holds.

    A file lock keeps two processes from building at once, and the build is written to a
    temporary folder and renamed into place, so no reader ever sees half a model.
    """
    if is_current(target):
        return target
    from filelock import FileLock

    name = target.name
    target.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(target.parent / f".{name}.lock")):
        if is_current(target):  # another process built it while we waited
            return target
        tmp = Path(tempfile.mkdtemp(prefix=f".{name}-building-", dir=target.parent))
        tmp.chmod(0o755)  # mkdtemp makes it private; the cache may be shared by users
        try:
            build(tmp)
            if target.exists():  # a build from an older builder version
                shutil.rmtree(target)
            os.replace(tmp, target)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return target


def ensure_preset(name: str) -> Path:
    """The cached build of preset `name`, building it on first use (see build_once)."""

    def build(folder: Path) -> None:
        from reftbench.model.build import build_model

        build_model(name, folder, seed=PRESET_SEED)

    return build_once(preset_path(name), lambda folder: _is_current(folder, name), build)


def _resolve(name_or_path: str) -> str:
    """A local folder for presets and paths, or the hub id unchanged; UserError otherwise."""
    if is_preset(name_or_path):
        return str(ensure_preset(name_or_path))
    if name_or_path == "base":  # the embedded base model: a local build, else the shipped one
        from reftbench.base_model import find_base

        base = find_base()
        if base is None:
            raise UserError("the embedded base model is missing: run `reftbench base` first")
        return str(base)
    path = Path(name_or_path).expanduser()
    if path.exists():
        if not (path / "config.json").is_file():
            raise UserError(f"{path} is not a model folder (no config.json); pass a preset "
                            f"({preset_names()}) or a checkpoint folder")
        return str(path)
    if HUB_ID.match(name_or_path) and not name_or_path.startswith("."):
        return name_or_path
    raise UserError(f"model path {name_or_path} does not exist; pass a preset "
                    f"({preset_names()}, base) or a checkpoint folder")


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
    where = _resolve(str(name_or_path))
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
