"""What produced a result: git commit, library versions, device, date.

Every checkpoint and results file carries this, so a number can always be traced to code.
"""

from __future__ import annotations

import datetime
import platform
import subprocess
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path


# The checkout reftbench runs from, and its committed reference results (data the harness
# writes: changes there do not make the code "dirty").
ROOT = Path(__file__).resolve().parent.parent
COMMITTED_RESULTS = ROOT / "results"


def changed_files() -> list[str] | None:
    """Tracked files of the checkout with uncommitted changes, outside results/; None when
    this is not a git checkout (an installed package)."""
    try:
        out = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "--",
                              ".", ":(exclude)results"], cwd=ROOT, capture_output=True,
                             text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    if out.returncode:
        return None
    return [line[3:] for line in out.stdout.splitlines() if line.strip()]


def git_commit() -> str:
    """The current commit of the reftbench checkout (with '-dirty' if its code is modified),
    or 'unknown'."""
    try:
        sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True,
                             text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return (sha + ("-dirty" if changed_files() else "")) if sha else "unknown"


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
    """Provenance record: commit, whether the code had uncommitted changes, versions, device,
    machine, UTC date."""
    commit = git_commit()
    return {
        "git_commit": commit,
        "dirty": commit.endswith("-dirty"),
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
