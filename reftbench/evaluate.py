"""The evaluator: every requested family x split x tier, greedy, strictly scored, resumable.

    run = evaluate(EvalConfig(model="tiny", families=("math",)), results_dir=Path("results"))

Writes `<results>/runs/<run-id>/samples.jsonl` (one row per scored sample, appended batch by
batch, so a killed run loses at most one batch) and `results.json` (atomically, at the end).
`resume=True` skips samples already in samples.jsonl.
"""

from __future__ import annotations

import re
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from reftbench import fileio, provenance, run_identity
from reftbench.config import between, check_bounds
from reftbench.errors import UserError
from reftbench.rewards import score
from reftbench.samples import FAMILIES, TEST_SPLITS, TIERS
from reftbench.stats import aggregate


@dataclass
class EvalConfig:
    """What to evaluate and how."""

    # Preset name (micro, tiny, small), local checkpoint folder or hub id.
    model: str = "tiny"
    # Row label on the leaderboard (default: the model name, plus "@<folder>" with `data`).
    label: str = ""
    # Task families to evaluate.
    families: tuple[str, ...] = FAMILIES
    # Test splits: "id" (in-domain) and/or "ood" (out-of-domain).
    splits: tuple[str, ...] = TEST_SPLITS
    # Curriculum tiers to evaluate.
    tiers: tuple[str, ...] = ("open",)
    # Scenes per generated test split (None = the default size, 1000).
    n_test: int | None = None
    # Evaluate at most this many samples per family x split x tier (None = all).
    limit: int | None = None
    # Prompts per generate() call.
    batch_size: int = 32
    # Longest completion in tokens.
    max_new_tokens: int = 64
    # Seed of the generated data.
    seed: int = 0
    # Folder name under results/runs, one path component (default: <label>-<timestamp>).
    run_id: str = ""
    # Torch device.
    device: str = "cpu"
    # Also score this many held-out general-mixture samples (open tier; the base model's own
    # skills, to show what training costs them); 0 = none.
    general: int = 0
    # Real-data folder whose id/ood rows are evaluated instead of the generated splits
    # (Curr-ReFT JSONL or a `datasets` folder; see reftbench/refdata.py); "" = generated data.
    data: str = ""
    # With `data`: stop at the first malformed row instead of skipping it with a warning.
    strict: bool = False
    # Extra provenance (trainer, training seed, ...) stored in results.json.
    extra: dict = field(default_factory=dict)

    def __post_init__(self):
        """Reject settings that would evaluate nothing or crash deep inside a loop."""
        from reftbench.registry import check_names

        for name, kind, valid in (("families", "task family", FAMILIES),
                                  ("splits", "split", TEST_SPLITS), ("tiers", "tier", TIERS)):
            names = tuple(check_names(kind, getattr(self, name), valid))
            if not names:
                raise UserError(f"no {name} to evaluate; choose from {', '.join(valid)}")
            setattr(self, name, names)
        if self.run_id and not is_folder_name(self.run_id):
            raise UserError(f"run-id must be a plain folder name (no '/', '..' or absolute "
                            f"path): it names a folder inside results/runs, got {self.run_id!r}")
        check_bounds(self, {"seed": between(0, 2**32 - 1)})
        if self.general < 0:
            raise UserError(f"general must be 0 or more, got {self.general}")
        for name in ("batch_size", "max_new_tokens", "limit", "n_test"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise UserError(f"{name.replace('_', '-')} must be at least 1, got {value}")
        if self.data:
            from reftbench.refdata import data_folder

            folder = data_folder(self.data).resolve()
            self.data = str(folder)  # results.json records where the rows came from
            if not self.label:  # its own leaderboard row, never averaged with generated data
                model = Path(self.model).name if Path(self.model).exists() else self.model
                self.label = f"{model}@{folder.name}"


def select_samples(cfg: EvalConfig) -> list[dict]:
    """The samples an evaluation covers, in a fixed order."""
    from reftbench.data import load_split, task_records

    chosen = []
    for family in cfg.families:
        for split in cfg.splits:
            records = task_records(family, split, cfg.tiers, data=cfg.data, strict=cfg.strict,
                                   n=cfg.n_test, seed=cfg.seed)
            for tier in cfg.tiers:
                tiered = [r for r in records if r["tier"] == tier]
                chosen.extend(tiered[:cfg.limit] if cfg.limit else tiered)
    if cfg.data and not chosen:
        raise UserError(f"{cfg.data} has no {'/'.join(cfg.splits)} test rows of "
                        f"{', '.join(cfg.families)} at tier(s) {', '.join(cfg.tiers)}")
    if cfg.general:
        chosen.extend(load_split("general", "id", seed=cfg.seed, tiers=("open",))[:cfg.general])
    return chosen


def slug(text: str) -> str:
    """A filesystem-safe name (never "." or "..")."""
    return re.sub(r"[^A-Za-z0-9@._-]+", "-", text).strip("-.")[:60] or "model"


def is_folder_name(name: str) -> bool:
    """True for one path component that stays where it is put: no separator, no "..", no NUL."""
    return name not in (".", "..") and not re.search(r"[/\\\x00]", name) and name.strip() == name


def run_dir_for(cfg: EvalConfig, results_dir: Path, resume: bool) -> Path:
    """The run folder: named, newest unfinished one (resume) or a new timestamped one."""
    runs = results_dir / "runs"
    label = slug(cfg.label or (Path(cfg.model).name if Path(cfg.model).exists() else cfg.model))
    if cfg.run_id:
        return runs / cfg.run_id
    if resume:
        # Only <label>-<timestamp> folders: "micro-*" must not pick up a "micro-tuned-..." run.
        own = re.compile(re.escape(label) + r"-\d{8}-\d{6}")
        unfinished = sorted(p for p in runs.glob(f"{label}-*") if own.fullmatch(p.name)
                            and (p / "samples.jsonl").exists() and not (p / "results.json").exists())
        if not unfinished:
            raise UserError(f"--resume: no unfinished run of '{label}' in {runs}; pass --run-id")
        return unfinished[-1]
    return runs / f"{label}-{time.strftime('%Y%m%d-%H%M%S')}"


def score_row(sample: dict, completion: str) -> dict:
    """One samples.jsonl row: identity, completion and its scores."""
    s = score(sample, completion)
    row = {k: sample[k] for k in ("id", "family", "split", "tier")}
    row.update(completion=completion, gold=sample["answer"])
    row.update(s)  # format, accuracy, reward, the parsed "answer" (None if none), iou
    return row


def evaluate(cfg: EvalConfig, results_dir: Path = Path("results"), resume: bool = False,
             backend=None, progress=None) -> dict:
    """Evaluate, write samples.jsonl and results.json, return the results dict.

    Cheap checks come first (output folder, model), so a typo fails before any slow step.
    `progress(k)` is called with the number of samples finished, already-done ones included.
    """
    from reftbench.generation import Sampling

    fileio.ensure_writable_dir(Path(results_dir) / "runs")
    if backend is None:
        backend = make_backend(cfg)
    samples = select_samples(cfg)
    run = run_dir_for(cfg, Path(results_dir), resume)
    identity = run_identity.eval_identity(cfg, samples)
    if resume:
        run_identity.check_resume(run, identity)
    log = fileio.ensure_writable_dir(run) / "samples.jsonl"
    if log.exists() and not resume:
        raise UserError(f"{run} already has results; pass --resume or another --run-id")
    run_identity.record(run, identity, keep=resume)
    finished = fileio.read_jsonl(log)
    if log.exists():
        # Rewrite without a line a kill may have cut (even a lone one), so appends start clean.
        fileio.write_atomic(log, fileio.dumps_jsonl(finished))
    done = {r["id"] for r in finished}
    todo = [s for s in samples if s["id"] not in done]
    if progress and len(todo) < len(samples):
        progress(len(samples) - len(todo))
    sampling = Sampling(max_new_tokens=cfg.max_new_tokens)
    start = time.perf_counter()
    for i in range(0, len(todo), cfg.batch_size):
        batch = todo[i:i + cfg.batch_size]
        completions = backend.generate(batch, sampling)
        if len(completions) != len(batch):  # zip would silently drop samples from the metrics
            raise RuntimeError(f"backend returned {len(completions)} results for {len(batch)} prompts")
        fileio.append_jsonl(log, [score_row(s, c[0]) for s, c in zip(batch, completions)])
        if progress:
            progress(len(batch))
    elapsed = time.perf_counter() - start
    wanted = {s["id"] for s in samples}
    # One row per id (the last written), so a row logged twice can never be counted twice.
    rows = list({r["id"]: r for r in fileio.read_jsonl(log) if r["id"] in wanted}.values())
    results = {
        "label": cfg.label or cfg.model,
        "run_id": run.name,
        "metrics": aggregate(rows),
        "config": asdict(cfg),
        "provenance": provenance.describe(cfg.device),
        "timing": {"generated": len(todo), "seconds": round(elapsed, 2),
                   "samples_per_second": round(len(todo) / elapsed, 2) if elapsed > 0 else None},
    }
    fileio.write_json(run / "results.json", results)
    return results


def make_backend(cfg: EvalConfig):
    """Load the model and wrap it in the transformers backend."""
    from reftbench.generation import TransformersBackend
    from reftbench.model.load import load_model

    model, processor = load_model(cfg.model, device=cfg.device)
    model.eval()
    return TransformersBackend(model, processor, batch_size=cfg.batch_size)
