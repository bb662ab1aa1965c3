"""What produced a result: git commit, library versions, device, date.

Every checkpoint and results file carries this, so a number can always be traced to code.
"""

from __future__ import annotations

import datetime
import platform
import subprocess
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path


def git_commit() -> str:
    """The current commit of the reftbench checkout (with '-dirty' if modified), or 'unknown'."""
    root = Path(__file__).resolve().parent.parent
    try:
        sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True,
                             text=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=root,
                               capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return (sha + ("-dirty" if dirty else "")) if sha else "unknown"


def versions() -> dict[str, str]:
    """Versions of the libraries that shape results."""
    out = {}
    for name in ("torch", "transformers", "trl", "accelerate", "datasets", "math-verify"):
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = "absent"
    return out


def describe(device: str = "cpu") -> dict:
    """Provenance record: commit, versions, device, machine, UTC date."""
    return {
        "git_commit": git_commit(),
        "versions": versions(),
        "device": device,
        "machine": f"{platform.machine()} {platform.system()} ({_cpu_count()} CPUs)",
        "python": platform.python_version(),
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }


def _cpu_count() -> int:
    import os

    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()


def model_fingerprint(folder: str | Path) -> str:
    """12 hex digits of sha256 over a model folder's weights and config: two folders with the
    same fingerprint hold the same model, and a rebuilt model at the same path gets a new one."""
    import hashlib

    folder = Path(folder)
    digest = hashlib.sha256()
    for name in ("config.json", *sorted(p.name for p in folder.glob("*.safetensors"))):
        path = folder / name
        if path.exists():
            with open(path, "rb") as fh:
                for block in iter(lambda: fh.read(1 << 20), b""):
                    digest.update(block)
    return digest.hexdigest()[:12]
