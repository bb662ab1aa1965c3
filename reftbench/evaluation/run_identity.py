"""What produced an evaluation run, recorded when it starts, so that `--resume` continues only
the same run: never another model's answers, or other data's, mixed into one results.json.

    identity = eval_identity(cfg, samples)       # model fingerprint, samples digest, settings
    check_resume(run_dir, identity)              # UserError naming what differs
    record(run_dir, identity, keep=resume)       # <run>/identity.json, at the start

A run folder from before this record existed has none: it resumes unchecked, and gets one.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from reftbench import fileio
from reftbench.errors import UserError

# The file in a run folder that holds the identity.
RECORD = "identity.json"
# EvalConfig fields a resume may change: every other one can change the answers or which
# samples are scored (the model is identified by its fingerprint instead of its name).
MAY_CHANGE = ("model", "label", "batch_size", "run_id", "device", "extra")


def model_identity(model: str) -> str:
    """The model's fingerprint (weights + config) when local, else its name (a hub id)."""
    from reftbench.model.names import local_folder
    from reftbench.provenance import model_fingerprint

    folder = local_folder(model)
    return f"fingerprint {model_fingerprint(folder)}" if folder else model


def samples_digest(samples: list[dict]) -> str:
    """12 hex digits over every sample's id, question and answer, in order."""
    keyed = [[s["id"], s["question"], s["answer"]] for s in samples]
    return hashlib.sha256(json.dumps(keyed).encode("utf-8", "replace")).hexdigest()[:12]


def eval_identity(cfg, samples: list[dict]) -> dict:
    """The model, the questions (a digest) and the result-changing settings of an evaluation."""
    from dataclasses import asdict

    settings = {k: v for k, v in asdict(cfg).items() if k not in MAY_CHANGE}
    return {"model": model_identity(cfg.model), **json.loads(json.dumps(settings)),
            "questions": samples_digest(samples)}


def check_resume(run: Path, identity: dict) -> None:
    """A UserError naming every recorded item that differs from `identity`."""
    path = Path(run) / RECORD
    if not path.is_file():
        return
    try:
        recorded = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, ValueError, RecursionError):
        recorded = None
    if not isinstance(recorded, dict):  # cut short, edited, or not this file at all
        raise UserError(f"{path} is damaged; pass another --run-id to start a new run")
    changed = [k for k, v in identity.items() if k in recorded and recorded[k] != v]
    if changed:
        listed = ", ".join(f"{k} ({recorded[k]!r}, now {identity[k]!r})" for k in changed)
        raise UserError(f"--resume: {run} was started with a different {listed}; resume with "
                        "the same model, data and settings, or pass another --run-id")


def record(run: Path, identity: dict, keep: bool) -> None:
    """Write the identity when the run starts; `keep` (a resume) leaves a recorded one as is."""
    path = Path(run) / RECORD
    if not (keep and path.exists()):
        fileio.write_json(path, identity)
