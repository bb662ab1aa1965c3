"""Time `make demo` as a newcomer meets it: a fresh clone, a fresh .venv, no cached task data.

    python bench/demo_time.py [--keep]

Clones the current commit into a temporary folder, points REFTBENCH_HOME at an empty folder
there (so the task data is generated, as on a new machine; pip's own cache is whatever this
machine has), runs `make demo`, and splits its wall time into phases from the times its files
were written: install, task data and base evaluation, each training stage, final evaluation.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import ROOT, output_options, report  # noqa: E402


def written(pattern: str, clone: Path) -> float:
    """When the one file matching `pattern` under `clone` was last written."""
    found = sorted(clone.glob(pattern))
    if len(found) != 1:
        raise SystemExit(f"expected one {pattern} in {clone}, found {len(found)}")
    return found[0].stat().st_mtime


def phases(clone: Path, start: float, end: float) -> list[list]:
    """[phase, seconds] rows between the demo's start and end."""
    marks = [("install", written(".venv/.core", clone)),
             ("task data + base evaluation",
              written("outputs/demo-results/*/*/runs/demo-base/results.json", clone))]
    for config in sorted(clone.glob("outputs/demo/*/*/*/stages/*/model/config.json")):
        marks.append((f"train: {config.parents[1].name}", config.stat().st_mtime))
    marks.append(("final evaluation + leaderboard", end))
    rows, before = [], start
    for name, when in marks:
        rows.append([name, round(when - before, 1)])
        before = when
    return rows + [["total", round(end - start, 1)]]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", action="store_true", help="keep the clone and its log")
    output_options(parser)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="demo_time_"))
    clone = tmp / "clone"
    subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True)
    env = {**os.environ, "REFTBENCH_HOME": str(tmp / "home")}
    env.pop("VIRTUAL_ENV", None)
    log = tmp / "demo.log"
    start = time.time()
    with open(log, "w") as out:
        code = subprocess.run(["make", "demo"], cwd=clone, env=env, stdout=out,
                              stderr=subprocess.STDOUT).returncode
    end = time.time()
    if code:
        raise SystemExit(f"make demo exited {code}; its log: {log}")
    commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=clone, capture_output=True,
                            text=True).stdout.strip()
    rows = phases(clone, start, end)
    report("make demo from a fresh clone", ["phase", "seconds"], rows,
           summary=f"`make demo` in {rows[-1][1]:.0f} s from a fresh clone, install included",
           notes=[f"clone of {commit}, empty REFTBENCH_HOME, `make demo` exit 0",
                  "phases end when their files were written (.venv/.core, the base's "
                  "results.json, each stage's saved model)"],
           append=not args.no_append)
    if args.keep:
        print(f"kept {tmp}")
    else:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
