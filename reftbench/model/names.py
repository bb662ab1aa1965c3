"""Model names: what `--model` may be, and where each one loads from. The one place these rules
live; evaluation, every trainer, the bench scripts and lmms-eval's model class all ask here.

    resolve_model("base")                         # the embedded base model's folder
    resolve_model("random-tiny")                  # its cached build, made on first use
    resolve_model("outputs/sft-seed0/final")      # a checkpoint folder, checked
    resolve_model("Qwen/Qwen2.5-VL-3B-Instruct")  # a hub id, unchanged

`base` is the trained embedded model: a local build (`reftbench base`, in the model cache)
first, else the copy shipped in reftbench/assets/base. The presets (reftbench/model/presets.py)
are randomly initialised models of fixed sizes, built once into the cache from a fixed seed.
Importing this module is cheap (no torch).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from reftbench import fileio
from reftbench.errors import UserError
from reftbench.model.presets import PRESETS, PRETRAINED_PRESETS, preset_dict
from reftbench.paths import make_cache_dir, models_dir

# The name of the trained embedded model.
BASE = "base"
# The base model shipped in the repository (built by `reftbench base --output reftbench/assets/base`).
SHIPPED = Path(__file__).resolve().parents[1] / "assets" / "base"
# The preset builds are always made from this seed, so a preset means the same weights everywhere.
PRESET_SEED = 0
# "owner/name": what a hub id looks like (a missing local path otherwise gets a clear error).
HUB_ID = re.compile(r"^[\w.-]+/[\w.-]+$")


def is_preset(name: str) -> bool:
    """True for the names of embedded presets (random-micro, random-tiny, random-small, smol)."""
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


def ensure_preset(name: str) -> Path:
    """The cached build of preset `name`, building it on first use (fileio.build_once)."""

    def build(folder: Path) -> None:
        from reftbench.model.build import build_model

        build_model(name, folder, seed=PRESET_SEED)

    make_cache_dir(models_dir())
    return fileio.build_once(preset_path(name), lambda folder: _is_current(folder, name), build)


def base_dir() -> Path:
    """Where `reftbench base` puts a locally built base model."""
    return models_dir() / BASE


def find_base() -> Path | None:
    """The base model to use: a local build first, else the shipped one, else None."""
    for folder in (base_dir(), SHIPPED):
        if (folder / "config.json").exists():
            return folder
    return None


def resolve_model(name: str, build: bool = True) -> str:
    """Where model `name` loads from: a local folder, or a hub id unchanged; a UserError
    naming the choices for anything else.

    A preset gives its cached build, made on first use; with `build=False` (a check before
    any work is done) it stays its name, and nothing is built.
    """
    if is_preset(name):
        return str(ensure_preset(name)) if build else name
    if name == BASE:
        base = find_base()
        if base is None:
            raise UserError("the embedded base model is missing: run `reftbench base` first")
        return str(base)
    path = Path(name).expanduser()
    if path.exists():
        if not (path / "config.json").is_file():
            raise UserError(f"{path} is not a model folder (no config.json); pass a preset "
                            f"({preset_names()}), base, or a checkpoint folder")
        return str(path)
    if HUB_ID.match(name) and not name.startswith("."):
        return name
    raise UserError(f"model {name} does not exist: it is neither a preset ({preset_names()}), "
                    "base, a checkpoint folder nor a hub id (owner/name)")


def local_folder(name: str) -> Path | None:
    """The folder model `name` loads from when it is local (the base model, a built preset, a
    checkpoint folder); None for a hub id or a preset not built yet. Builds nothing."""
    if name == BASE:
        return find_base()
    folder = preset_path(name) if is_preset(name) else Path(name).expanduser()
    return folder if folder.is_dir() else None


def context_of(name: str) -> int | None:
    """The longest prompt + completion model `name` takes, in tokens (its config.json's
    max_position_embeddings), when it is local; None for a hub id, a preset not built yet, or
    a config that does not say. Loads no weights."""
    folder = local_folder(name)
    try:
        config = json.loads((folder / "config.json").read_text()) if folder else {}
    except (OSError, ValueError):
        return None
    text = config.get("text_config") if isinstance(config.get("text_config"), dict) else config
    length = text.get("max_position_embeddings") if isinstance(text, dict) else None
    return length if isinstance(length, int) and length > 0 else None


def check_room(name: str, tokens: int, option: str) -> None:
    """A UserError when `tokens` new tokens (from `option`) cannot fit in model `name`'s
    context: generation would stop at the context or fail, not give that many."""
    context = context_of(name)
    if context is not None and tokens > context:
        raise UserError(f"{option} {tokens} is beyond {name}'s context of {context:,} tokens "
                        "(prompt and completion together); give at most that")
