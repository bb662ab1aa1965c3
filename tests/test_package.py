"""What the package ships and what it needs: no pickles, and every import declared.

A pickle runs code when loaded and nothing in reftbench reads one (models are safetensors,
configs JSON or YAML), so none may ship. A module the code imports must be named in
pyproject.toml (in the core dependencies, or in the extra that code needs), not merely arrive
with some other package that may stop bringing it.
"""

import ast
import re
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("reftbench", "tasks", "trainers")
# Pickle formats by file suffix: torch's save files, numpy's object arrays, plain pickles.
PICKLE_SUFFIXES = {".bin", ".pkl", ".pickle", ".pt", ".pth", ".ckpt", ".npy", ".joblib"}


def test_the_package_ships_no_pickle():
    shipped = [p.relative_to(ROOT) for package in PACKAGES for p in (ROOT / package).rglob("*")
               if p.suffix in PICKLE_SUFFIXES and "__pycache__" not in p.parts]
    assert shipped == []
    # The embedded base model is safetensors and JSON only.
    assert (ROOT / "reftbench" / "assets" / "base" / "model.safetensors").exists()


# Code that runs only with an extra installed (its imports may come from that extra).
EXTRA_CODE = {"reftbench/lmms": "lmms", "reftbench/generation/vllm_backend.py": "vllm"}


def imports_by_extra() -> dict[str | None, set[str]]:
    """Extra (None: the core) -> top-level names of the third-party modules its code imports,
    anywhere in a file (an import inside a function runs too)."""
    found: dict[str | None, set[str]] = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            where = path.relative_to(ROOT).as_posix()
            extra = next((e for prefix, e in EXTRA_CODE.items() if where.startswith(prefix)), None)
            names = found.setdefault(extra, set())
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Import):
                    names.update(alias.name.split(".")[0] for alias in node.names)
                elif isinstance(node, ast.ImportFrom) and node.level == 0:
                    names.add(node.module.split(".")[0])
    return {extra: {n for n in names if n not in sys.stdlib_module_names
                    and n not in (*PACKAGES, "__future__")} for extra, names in found.items()}


def declared(extra: str | None) -> set[str]:
    """Normalised distribution names pyproject.toml installs for the core (+ `extra`)."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    requirements = [*project["dependencies"],
                    *(project["optional-dependencies"][extra] if extra else [])]
    return {normal(re.match(r"[A-Za-z0-9_.-]+", r).group()) for r in requirements}


def normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def test_every_imported_module_is_declared():
    owners = packages_distributions()
    found = imports_by_extra()
    assert {"torch", "filelock"} <= found[None] and "lmms_eval" in found["lmms"]
    for extra, modules in found.items():
        missing = {m for m in modules
                   if not {normal(d) for d in owners.get(m, [m])} & declared(extra)}
        assert missing == set(), f"{extra or 'core'} code imports undeclared {sorted(missing)}"
