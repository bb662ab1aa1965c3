"""Lazy plugin registries: names map to "module:attr" strings, imported only when used.

Listing trainers or task families imports neither torch nor vLLM. Third-party trainers join
through the `reftbench.trainers` entry-point group (`name = "package.module:Trainer"`).

    registry.trainers()              -> {"sft": "trainers.sft:TRAINER", ...}
    registry.load_trainer("sft")     -> the trainer object (imports trainers/sft.py)
    registry.trainer_descriptions()  -> {"sft": "supervised fine-tuning ...", ...}
"""

from __future__ import annotations

import difflib
import importlib
from importlib.metadata import entry_points

from reftbench.errors import UserError

# Built-in trainers: command-line name -> "module:attribute". One file per trainer in trainers/.
BUILTIN_TRAINERS = {
    "sft": "trainers.sft:TRAINER",
    "grpo": "trainers.grpo:TRAINER",
    "curr-rl": "trainers.curr_rl:TRAINER",
    "curr-reft": "trainers.curr_reft:TRAINER",
}


def import_object(spec: str):
    """Import "package.module:attr" and return the attribute."""
    module_name, _, attr = spec.partition(":")
    module = importlib.import_module(module_name)
    return getattr(module, attr) if attr else module


def suggest(name: str, choices) -> str:
    """' (did you mean X?)' for the nearest name, or ''."""
    close = difflib.get_close_matches(name, list(choices), n=1)
    return f" (did you mean {close[0]}?)" if close else ""


def trainers() -> dict[str, str]:
    """All trainer names -> import specs, built-ins first, then entry points."""
    found = dict(BUILTIN_TRAINERS)
    for ep in entry_points(group="reftbench.trainers"):
        found.setdefault(ep.name, ep.value)
    return found


def load_trainer(name: str):
    """The trainer registered under `name`, or a UserError naming the nearest one."""
    table = trainers()
    if name not in table:
        raise UserError(f"unknown trainer '{name}'{suggest(name, table)}; see `reftbench train --list`")
    return import_object(table[name])


def trainer_descriptions() -> dict[str, str]:
    """Trainer name -> its one-line description (the plugin's own `description`).

    Trainer modules import nothing heavy at the top (torch and TRL load when a stage runs), so
    this stays fast; a plugin that cannot be imported is listed with the reason.
    """
    described = {}
    for name in trainers():
        try:
            described[name] = load_trainer(name).description
        except Exception as exc:  # a broken third-party plugin must not hide the others
            described[name] = f"(cannot be loaded: {type(exc).__name__}: {exc})"
    return described


def families() -> dict:
    """Task family name -> its registry entry (tasks/__init__.py, no heavy imports)."""
    from tasks import FAMILIES

    return dict(FAMILIES)


def check_names(kind: str, names, valid) -> list[str]:
    """Validate a list of names against `valid`, raising a UserError with a suggestion; a
    name given twice is kept once (`--tasks math,math` evaluates math once), in order."""
    names = list(dict.fromkeys(names))
    for name in names:
        if name not in valid:
            raise UserError(f"unknown {kind} '{name}'{suggest(name, valid)}; choose from {', '.join(valid)}")
    return names
