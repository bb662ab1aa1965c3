"""Dataclass configs: load from YAML, override with `--key value`, reject what is unknown.

    cfg = resolve(GRPOConfig, presets, preset="tiny", yaml_path=None, overrides=["--lr", "1e-5"])

Every field of a config dataclass has a comment above it (the documentation). An unknown key,
or a value of the wrong type, is a `UserError` naming the key, never a silent default. A
value out of its field's range (`Bound`, checked by `check_bounds`) is one too, found before
any model loads or any folder is made.
"""

from __future__ import annotations

import dataclasses
import math
import reprlib
import sys
import types
import typing
from pathlib import Path

import yaml

from reftbench.errors import UserError
from reftbench.registry import suggest


@dataclasses.dataclass(frozen=True)
class Bound:
    """The values a config field allows: a numeric range, or a set of names.

    Numbers must also be finite (no nan, no inf); a tuple field's bound applies to each of its
    items; None always passes (fields that allow None mean "the default" by it).
    """

    # Smallest allowed value (None = no lower limit).
    low: float | None = None
    # Whether `low` itself is allowed (False for a learning rate or a temperature: above 0).
    low_ok: bool = True
    # Largest allowed value (None = no upper limit).
    high: float | None = None
    # Allowed names of a text field (empty = any number in the range).
    names: tuple[str, ...] = ()

    def problem(self, value) -> str | None:
        """Why `value` is not allowed, or None when it is."""
        if self.names:
            return None if value in self.names else f"must be one of {', '.join(self.names)}"
        if not math.isfinite(value):
            return "must be a finite number"
        if self.low is not None and (value < self.low or value == self.low and not self.low_ok):
            if self.high is not None:
                return (f"must be between {self.low} and {self.high}" if self.low_ok
                        else f"must be above {self.low} and at most {self.high}")
            return f"must be at least {self.low}" if self.low_ok else f"must be above {self.low}"
        if self.high is not None and value > self.high:
            return f"must be between {self.low} and {self.high}" if self.low is not None \
                else f"must be at most {self.high}"
        return None


def at_least(low: float) -> Bound:
    """low or more."""
    return Bound(low=low)


def above(low: float) -> Bound:
    """More than low (a learning rate, a temperature)."""
    return Bound(low=low, low_ok=False)


def between(low: float, high: float) -> Bound:
    """low to high, both included."""
    return Bound(low=low, high=high)


def one_of(*names: str) -> Bound:
    """One of these names."""
    return Bound(names=names)


# Seeds numpy, torch and the data generators all accept.
SEEDS = between(0, 2**32 - 1)


def check_bounds(cfg, bounds: dict[str, Bound]) -> None:
    """A UserError naming the first field of `cfg` whose value is outside its bound."""
    for f in dataclasses.fields(cfg):
        bound, value = bounds.get(f.name), getattr(cfg, f.name)
        for item in (value if isinstance(value, (tuple, list)) else (value,)):
            why = None if bound is None or item is None else bound.problem(item)
            if why:
                raise UserError(f"config key '{f.name}' {why}, got {shown(item)}")


# How values are shown in error lines: cut short, so a 100,000-digit number or a list of a
# million items gives one readable line.
_SHORT = reprlib.Repr()
_SHORT.maxstring = _SHORT.maxother = _SHORT.maxlong = 60
_SHORT.maxlist = _SHORT.maxtuple = _SHORT.maxdict = 6
_SHORT.maxlevel = 3


def shown(value) -> str:
    """repr(value), cut short for an error line (at most about 80 characters)."""
    text = _SHORT.repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def field_types(cls) -> dict[str, object]:
    """Field name -> resolved type annotation."""
    hints = typing.get_type_hints(cls)
    return {f.name: hints[f.name] for f in dataclasses.fields(cls)}


def coerce(key: str, value, kind):
    """Convert `value` (from YAML or the command line) to `kind`, or raise a UserError."""
    origin = typing.get_origin(kind)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(kind) if a is not type(None)]
        if value is None or (isinstance(value, str) and value.lower() in ("none", "null")):
            return None
        return coerce(key, value, args[0])
    if origin in (tuple, list) or kind in (tuple, list):
        if isinstance(value, str):  # "a, b" on the command line; "" is the empty tuple
            items = [v.strip() for v in value.split(",") if v.strip()]
        elif isinstance(value, (list, tuple)):
            items = list(value)
        else:
            raise UserError(f"config key '{key}' expects a list, got {shown(value)}")
        inner = (typing.get_args(kind) or (str,))[0]
        return tuple(coerce(key, v, inner) for v in items)
    if origin is dict or kind is dict:
        if not isinstance(value, dict):
            raise UserError(f"config key '{key}' expects a mapping, got {shown(value)}")
        return dict(value)
    if isinstance(value, (list, tuple, dict)) or (isinstance(value, bool) and kind is not bool):
        # str([1]) or int(True) would "work" and hide the mistake.
        raise UserError(f"config key '{key}' expects {getattr(kind, '__name__', kind)}, "
                        f"got {shown(value)}")
    try:
        if kind is bool:
            return _to_bool(value)
        if kind is int and isinstance(value, float) and not value.is_integer():
            raise ValueError
        return kind(value)
    except (TypeError, ValueError):
        raise UserError(f"config key '{key}' expects {getattr(kind, '__name__', kind)}, "
                        f"got {shown(value)}") from None


def _to_bool(value) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off"):
        return False
    raise ValueError(value)


def update(cfg, values: dict, source: str):
    """A copy of `cfg` with `values` applied (keys may use - or _)."""
    kinds = field_types(type(cfg))
    changes = {}
    for raw_key, value in values.items():
        key = raw_key.replace("-", "_")
        if key not in kinds:
            # A config may name where a key of a related config went (KEY_HINTS).
            hint = getattr(type(cfg), "KEY_HINTS", {}).get(key)
            where = f" ({hint})" if hint else suggest(key, kinds)
            raise UserError(f"unknown config key {shown(raw_key)} in {source}{where}")
        changes[key] = coerce(key, value, kinds[key])
    return dataclasses.replace(cfg, **changes)


def parse_overrides(args: list[str]) -> dict[str, str]:
    """['--lr', '1e-5', '--beta=0.04'] -> {'lr': '1e-5', 'beta': '0.04'}."""
    out, i = {}, 0
    while i < len(args):
        arg = args[i]
        if not arg.startswith("--"):
            raise UserError(f"unexpected argument '{arg}': overrides look like --key value")
        key, eq, value = arg[2:].partition("=")
        if not eq:
            if i + 1 >= len(args) or args[i + 1].startswith("--"):
                raise UserError(f"override --{key} needs a value")
            value, i = args[i + 1], i + 1
        if key in out:  # the last would win silently
            raise UserError(f"override --{key} is given twice ({shown(out[key])} and "
                            f"{shown(value)}); give it once")
        out[key] = value
        i += 1
    return out


def merge_overrides(*groups) -> list[str]:
    """Override lists as one, a later group's value for a key replacing an earlier group's
    (a command's own settings first, the user's after); each group is checked on its own."""
    merged: dict[str, str] = {}
    for group in groups:
        merged.update(parse_overrides(list(group)))
    return [part for key, value in merged.items() for part in (f"--{key}", value)]


def load_yaml(path: Path) -> dict:
    """A YAML mapping from a file, with a clear error for a missing or malformed file, a key
    given twice (YAML itself keeps the last one silently) or a key that is not a name."""
    if not Path(path).is_file():
        raise UserError(f"config file {path} does not exist (or is not a file)")
    try:
        data = yaml.load(Path(path).read_text(), Loader=UniqueKeyLoader) or {}
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"cannot read config file {path}: {exc}") from None
    except RecursionError:
        raise UserError(f"config file {path} is nested too deeply to be a config") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        if isinstance(exc, DuplicateKey):
            raise UserError(f"config file {path} {problem}") from None
        raise UserError(f"config file {path} is not valid YAML{where}: {problem}") from None
    except ValueError:  # Python's limit on turning digits into an int
        raise UserError(f"config file {path} is not valid YAML: a number with over "
                        f"{sys.get_int_max_str_digits():,} digits") from None
    if not isinstance(data, dict):
        raise UserError(f"config file {path} must hold a mapping of key: value")
    for key in data:
        if not isinstance(key, str):
            raise UserError(f"config file {path}: key {shown(key)} is not a config key name")
    return data


class DuplicateKey(yaml.YAMLError):
    """A mapping key given twice in a config file (`problem` says which, on which lines)."""

    def __init__(self, problem: str):
        super().__init__(problem)
        self.problem = problem


class UniqueKeyLoader(yaml.SafeLoader):
    """yaml.SafeLoader that refuses a mapping key given twice (SafeLoader keeps the last)."""

    def construct_mapping(self, node, deep=False):
        lines: dict = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            line = key_node.start_mark.line + 1
            try:
                first = lines.setdefault(key, line)
            except TypeError:  # an unhashable key: SafeLoader's own error follows
                continue
            if first != line:
                raise DuplicateKey(f"sets {shown(key)} twice (lines {first} and {line})")
        return super().construct_mapping(node, deep=deep)


def resolve(cls, presets: dict, preset: str, yaml_path: Path | None = None,
            overrides: list[str] | dict | None = None):
    """Preset, then YAML file, then command-line overrides, each checked against `cls`."""
    if preset not in presets:
        raise UserError(f"unknown preset '{preset}'{suggest(preset, presets)}; "
                        f"choose from {', '.join(presets)}")
    cfg = update(cls(), presets[preset], f"preset {preset}")
    if yaml_path is not None:
        cfg = update(cfg, load_yaml(yaml_path), str(yaml_path))
    if overrides:
        values = overrides if isinstance(overrides, dict) else parse_overrides(overrides)
        cfg = update(cfg, values, "the command line")
    return cfg
