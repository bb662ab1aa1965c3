"""Run a trainer's stages in order, each from the previous stage's model, resumably.

    final_model = run_stages(stages, start_model="base", run_dir=Path("outputs/curr-reft"), ...)

Each stage works in `run_dir/stages/<name>/`. A finished stage writes `stage.json` (its model
folder, wall time) after its model is saved, so a resumed run skips it; an unfinished stage
resumes from its latest TRL checkpoint (or, for the rejection sampler, its sample log).
Under `accelerate launch` every process runs every stage; only the main process writes the
records (see reftbench.distributed).
"""

from __future__ import annotations

import json
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from reftbench import fileio
from reftbench.errors import UserError
from reftbench.distributed import barrier, is_main


@dataclass
class Stage:
    """One step of a training plan."""

    # Folder-safe name, e.g. "1-judge"; also the label in progress bars and metrics.
    name: str
    # run(input_model, stage_dir, progress) -> saved model folder.
    run: Callable[[str, Path, object], Path]


def stage_record(stage_dir: Path) -> dict | None:
    """The finished-stage record, or None if the stage has not finished."""
    marker = stage_dir / "stage.json"
    if not marker.exists():
        return None
    try:
        record = json.loads(marker.read_text())
    except (OSError, UnicodeDecodeError, ValueError, RecursionError):
        record = None
    if not isinstance(record, dict) or not isinstance(record.get("model"), str):
        raise UserError(f"{marker} is damaged; delete {stage_dir} to run that stage again, "
                        "then --resume")
    return record


def check_fresh(run_dir: Path, resume: bool) -> None:
    """Refuse to mix a new run into an old run's folder unless resuming."""
    if resume:
        if not (run_dir / "stages").exists():
            raise UserError(f"--resume: {run_dir} holds no run to resume")
        return
    if (run_dir / "stages").exists() and any((run_dir / "stages").iterdir()):
        raise UserError(f"{run_dir} already holds a run; pass --resume to continue it "
                        "or --output to start another")


def run_stages(stages: list[Stage], start_model: str, run_dir: Path, extra_meta: dict,
               progress=None, log=print) -> Path:
    """Run (or skip, when finished) every stage; return the final model folder."""
    model = start_model
    for stage in stages:
        stage_dir = run_dir / "stages" / stage.name
        done = stage_record(stage_dir)
        if done:
            log(f"stage {stage.name}: already finished, skipping")
            model = done["model"]
            continue
        stage_dir.mkdir(parents=True, exist_ok=True)
        started = time.perf_counter()
        out = Path(stage.run(model, stage_dir, progress))
        record = {"stage": stage.name, "input_model": model, "model": str(out),
                  "seconds": round(time.perf_counter() - started, 1)}
        if is_main():
            if stage_dir in out.parents:  # a stage may pass its input on unchanged
                fileio.write_json(out / "reftbench_run.json", {"stage": stage.name,
                                                           "input_model": model, **extra_meta})
            fileio.write_json(stage_dir / "stage.json", record)
            shutil.rmtree(stage_dir / "trainer", ignore_errors=True)
            log(f"stage {stage.name}: done in {record['seconds']} s -> {out}")
        barrier()
        model = str(out)
    return Path(model)
