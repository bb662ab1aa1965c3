"""The evaluator: every requested family x split x tier, greedy, strictly scored, resumable.

    run = evaluate(EvalConfig(model="base", families=("math",)), results_dir=Path("outputs/results"))

Writes `<results>/runs/<run-id>/samples.jsonl` (one row per scored sample, appended batch by
batch, so a killed run loses at most one batch), and at the end, atomically, `results.json` and
`scores.json` (every question's scores, compact enough to commit: reftbench.evaluation.scores).
`resume=True` skips samples already in samples.jsonl; a second process on a run folder in use
stops (reftbench.runlock). Under `accelerate launch` every rank generates its share of the
samples on its own device and the main process writes the one run folder.
"""

from __future__ import annotations

import re
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from tasks import benchmark_families

from reftbench import fileio, provenance

from reftbench.evaluation import protocol, run_identity, scores
from reftbench.config import SEEDS, check_bounds, shown
from reftbench.model.load import DTYPES as MODEL_DTYPES
from reftbench.model.names import check_room
from reftbench.errors import UserError
from reftbench.paths import RESULTS
from reftbench.scoring.frames import in_model_frame, resize_of
from reftbench.scoring.rewards import score
from reftbench.samples import FAMILIES, TEST_SPLITS, TIERS
from reftbench.evaluation.stats import aggregate

# What `dtype` accepts ("auto": the checkpoint's own).
DTYPES = ("auto", *MODEL_DTYPES)
# What `box_metric` accepts.
BOX_METRICS = ("box_iou", "box_iou_reference")
# Longest --run-id: a folder name, with room under the file system's 255 bytes.
MAX_RUN_ID = 150


@dataclass
class EvalConfig:
    """What to evaluate and how."""

    # base (the trained embedded model), a random preset (random-micro, random-tiny,
    # random-small), a local checkpoint folder or a hub id.
    model: str = "base"
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
    # Longest completion in tokens (a think-then-answer completion of a real model needs ~256;
    # a trainer's own evaluation uses its max_completion_length).
    max_new_tokens: int = 64
    # Also draw K sampled completions per prompt (at `sample_temperature`) and report their
    # mean strict accuracy ("sampled") and the share of prompts with at least one correct
    # ("pass_k"), beside greedy accuracy: whether a model has headroom for RL to sharpen, and
    # whether training sharpened or narrowed it. 0 = greedy only.
    samples: int = 0
    # Temperature of those samples (the rollouts' temperature).
    sample_temperature: float = 1.0
    # Seed of the generated data.
    seed: int = 0
    # Folder name under results/runs, one path component (default: <label>-<timestamp>).
    run_id: str = ""
    # Torch device: "auto" (CUDA when present; under a launcher, each rank's own GPU), "cpu",
    # "cuda" or "cuda:N".
    device: str = "auto"
    # Weights' dtype for generation: "auto" (the checkpoint's own), "float32", "bfloat16" or
    # "float16".
    dtype: str = "auto"
    # Largest / smallest image in pixels after the processor's resize (Qwen2-VL family);
    # None = the checkpoint's own (a reftbench-trained one saved its training setting).
    max_pixels: int | None = None
    min_pixels: int | None = None
    # Also score this many held-out general-mixture samples (open tier; the base model's own
    # skills, to show what training costs them); 0 = none.
    general: int = 0
    # Real-data folder whose id/ood rows are evaluated instead of the generated splits
    # (Curr-ReFT JSONL or a `datasets` folder; see reftbench/data/refdata.py); "" = generated data.
    data: str = ""
    # With `data`: stop at the first malformed row instead of skipping it with a warning.
    strict: bool = False
    # With `data` in the Curr-ReFT release layout: the folder its images are found under
    # (reftbench/data/release.py); "" = DATA/images, else DATA.
    image_root: str = ""
    # lmms-eval benchmarks scored after reftbench's own tasks, into the same results.json; with
    # them, `families` may be empty (the benchmarks alone).
    lmms_tasks: tuple[str, ...] = ()
    # The metric detection's open answers are scored by: "box_iou" (strict: the answer is one
    # box) or "box_iou_reference" (the Curr-ReFT reference's reading: the first list of four
    # numbers anywhere in the answer), to reproduce the paper's tables.
    box_metric: str = "box_iou"
    # Extra provenance (trainer, training seed, ...) stored in results.json.
    extra: dict = field(default_factory=dict)

    def __post_init__(self):
        """Reject settings that would evaluate nothing or crash deep inside a loop."""
        from reftbench.registry import check_names

        for name, kind, valid in (("families", "task family", benchmark_families()),
                                  ("splits", "split", TEST_SPLITS), ("tiers", "tier", TIERS)):
            names = tuple(check_names(kind, getattr(self, name), valid))
            if not names and not (name == "families" and self.lmms_tasks):
                raise UserError(f"no {name} to evaluate; choose from {', '.join(valid)}")
            setattr(self, name, names)
        self.lmms_tasks = tuple(self.lmms_tasks)
        check_names("dtype", [self.dtype], DTYPES)
        check_names("box metric", [self.box_metric], BOX_METRICS)
        if not self.model.strip():
            raise UserError("--model is empty: name a preset, base, a checkpoint folder or a "
                            "hub id")
        self.device = eval_device(self.device)
        if self.run_id and not is_folder_name(self.run_id):
            raise UserError(f"run-id must be a plain folder name (no '/', '..', control "
                            "characters or absolute path): it names a folder inside "
                            f"results/runs, got {shown(self.run_id)}")
        if len(self.run_id) > MAX_RUN_ID:
            raise UserError(f"run-id is {len(self.run_id):,} characters long; at most "
                            f"{MAX_RUN_ID} make a folder name")
        if fileio.CONTROL.search(self.label):
            raise UserError(f"label holds a control character (a line break, a terminal "
                            f"escape): {shown(self.label)}; it names a leaderboard row")
        check_bounds(self, {"seed": SEEDS})
        if self.general < 0:
            raise UserError(f"general must be 0 or more, got {self.general}")
        if self.samples < 0 or self.samples == 1:
            raise UserError(f"samples must be 0 (greedy only) or at least 2, got {self.samples}")
        if not self.sample_temperature > 0:
            raise UserError(f"sample-temperature must be above 0, got {self.sample_temperature}")
        for name in ("batch_size", "max_new_tokens", "limit", "n_test"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise UserError(f"{name.replace('_', '-')} must be at least 1, got {value}")
        check_room(self.model, self.max_new_tokens, "--max-new-tokens")
        if self.image_root and not self.data:
            raise UserError("--image-root goes with --data (a Curr-ReFT release folder)")
        if self.strict and not self.data:
            raise UserError("--strict goes with --data (it stops at a real-data folder's first "
                            "bad row; generated splits have none)")
        if self.data:
            from reftbench.data.refdata import data_folder

            folder = data_folder(self.data).resolve()
            self.data = str(folder)  # results.json records where the rows came from
            if self.image_root:
                self.image_root = str(Path(self.image_root).expanduser().resolve())
            if not self.label:  # its own leaderboard row, never averaged with generated data
                model = Path(self.model).name if Path(self.model).exists() else self.model
                self.label = f"{model}@{folder.name}"


def select_samples(cfg: EvalConfig) -> list[dict]:
    """The samples an evaluation covers, in a fixed order."""
    from reftbench.data.generated import load_split, task_records

    chosen = []
    for family in cfg.families:
        for split in cfg.splits:
            records = task_records(family, split, cfg.tiers, data=cfg.data, strict=cfg.strict,
                                   n=cfg.n_test, seed=cfg.seed, image_root=cfg.image_root)
            for tier in cfg.tiers:
                tiered = [r for r in records if r["tier"] == tier]
                chosen.extend(tiered[:cfg.limit] if cfg.limit else tiered)
    if cfg.data and cfg.families and not chosen:
        raise UserError(f"{cfg.data} has no {'/'.join(cfg.splits)} test rows of "
                        f"{', '.join(cfg.families)} at tier(s) {', '.join(cfg.tiers)}")
    if cfg.box_metric != "box_iou":
        chosen = [dict(s, metric=cfg.box_metric) if s["metric"] == "box_iou" else s
                  for s in chosen]
    if cfg.general:
        chosen.extend(load_split("general", "id", seed=cfg.seed, tiers=("open",))[:cfg.general])
    return chosen


def slug(text: str) -> str:
    """A filesystem-safe name (never "." or "..")."""
    return re.sub(r"[^A-Za-z0-9@._-]+", "-", text).strip("-.")[:60] or "model"


def is_folder_name(name: str) -> bool:
    """True for one path component that stays where it is put and prints as itself: no
    separator, no "..", no control character (NUL, a line break, a terminal escape)."""
    return (name not in (".", "..") and not re.search(r"[/\\]", name)
            and not fileio.CONTROL.search(name) and name.strip() == name)


def run_dir_for(cfg: EvalConfig, results_dir: Path, resume: bool) -> Path:
    """The run folder: named, newest unfinished one (resume) or a new timestamped one."""
    runs = results_dir / "runs"
    label = slug(cfg.label or (Path(cfg.model).name if Path(cfg.model).exists() else cfg.model))
    if cfg.run_id:
        return runs / cfg.run_id
    if resume:
        # Only <label>-<timestamp>[-N] folders: "base-*" must not pick up a "base-tuned-..." run.
        own = re.compile(re.escape(label) + r"-\d{8}-\d{6}(?:-\d+)?")
        unfinished = sorted(p for p in runs.glob(f"{label}-*") if own.fullmatch(p.name)
                            and (p / "samples.jsonl").exists() and not (p / "results.json").exists())
        if not unfinished:
            raise UserError(f"--resume: no unfinished run of '{label}' in {runs}; pass --run-id")
        return unfinished[-1]
    return runs / f"{label}-{time.strftime('%Y%m%d-%H%M%S')}"


def claim_run_dir(run: Path, named: bool) -> Path:
    """Make the run folder. A default name (`named` False: <label>-<timestamp>) is claimed
    with an exclusive mkdir, so two evaluations of one model started in the same second get
    <...>-2, <...>-3 instead of colliding on one folder; a named one (--run-id, a resume) is
    used as it is."""
    if named:
        return fileio.ensure_writable_dir(run)
    fileio.ensure_writable_dir(run.parent)
    for n in range(1, 1000):
        candidate = run if n == 1 else run.with_name(f"{run.name}-{n}")
        try:
            candidate.mkdir()
        except FileExistsError:
            continue
        return candidate
    raise UserError(f"{run.parent} holds 999 runs named {run.name}; pass --run-id")


def score_row(sample: dict, completion: str, sampled: list[str] | None = None) -> dict:
    """One samples.jsonl row: identity, completion and its scores; with `sampled`
    completions, their mean strict accuracy ("sampled") and whether any is right ("pass_k")."""
    s = score(sample, completion)
    row = {k: sample[k] for k in ("id", "family", "split", "tier")}
    row.update(completion=completion, gold=sample["answer"])
    row.update(s)  # format, accuracy, strict, reward, the parsed "answer" (None if none), iou
    if sampled:
        right = [score(sample, text)["strict"] for text in sampled]
        row.update(sampled=sum(right) / len(right), pass_k=float(max(right) == 1.0),
                   samples=len(right))
    return row


def evaluate(cfg: EvalConfig, results_dir: Path = RESULTS, resume: bool = False,
             backend=None, progress=None) -> dict:
    """Evaluate, write samples.jsonl and results.json, return the results dict.

    Cheap checks come first (output folder, model), so a typo fails before any slow step.
    `progress(k)` is called with the number of samples finished, already-done ones included.
    """
    from reftbench.generation.decoding import Sampling
    from reftbench.runlock import hold
    from reftbench.distributed import main_decides, map_sharded

    fileio.ensure_writable_dir(Path(results_dir) / "runs")
    if backend is None:
        backend = make_backend(cfg)
    # Gold boxes in the frame the model sees (reftbench/scoring/frames.py).
    samples, frame = in_model_frame(select_samples(cfg), resize_of(getattr(backend, "processor", None)))
    run_protocol = protocol.describe(cfg, backend, samples, frame)
    run = Path(main_decides(lambda: str(run_dir_for(cfg, Path(results_dir), resume))))
    # Hashing the weights is the main process's job (minutes for a 3B checkpoint on every rank).
    identity = main_decides(lambda: run_identity.eval_identity(cfg, samples))
    if resume:
        main_decides(lambda: run_identity.check_resume(run, identity))
    run = Path(main_decides(lambda: str(claim_run_dir(run, bool(cfg.run_id) or resume))))
    with hold(run, "evaluation"):
        log = run / "samples.jsonl"
        done = main_decides(lambda: open_log(log, resume, identity))
        todo = [s for s in samples if s["id"] not in done]
        if progress and len(todo) < len(samples):
            progress(len(samples) - len(todo))
        greedy = Sampling(max_new_tokens=cfg.max_new_tokens)
        sampled = Sampling(max_new_tokens=cfg.max_new_tokens,
                           temperature=cfg.sample_temperature, n=max(cfg.samples, 1))
        if cfg.samples:
            import torch

            torch.manual_seed(cfg.seed)  # the same samples on a rerun

        def generate(batch: list[dict]) -> list[dict]:
            completions = _generate(backend, batch, greedy)
            draws = _generate(backend, batch, sampled) if cfg.samples else [None] * len(batch)
            return [score_row(s, c[0], d) for s, c, d in zip(batch, completions, draws)]

        def write(rows: list[dict]) -> None:
            fileio.append_jsonl(log, rows)
            if progress:
                progress(len(rows))

        start = time.perf_counter()
        map_sharded(todo, cfg.batch_size, generate, write)
        elapsed = time.perf_counter() - start
        return main_decides(lambda: write_results(cfg, run, samples, len(todo), elapsed,
                                                  run_protocol))


def open_log(log: Path, resume: bool, identity: dict) -> set[str]:
    """The ids already scored in a run's samples.jsonl (a fresh run must have none); records
    what produced the run (run_identity), so a resume with another model is refused."""
    if log.exists() and not resume:
        raise UserError(f"{log.parent} already has results; pass --resume or another --run-id")
    run_identity.record(log.parent, identity, keep=resume)
    finished = fileio.read_jsonl(log)
    if log.exists():
        # Rewrite without a line a kill may have cut (even a lone one), so appends start clean.
        fileio.write_atomic(log, fileio.dumps_jsonl(finished))
    return {r["id"] for r in finished}


def write_results(cfg: EvalConfig, run: Path, samples: list[dict], generated: int,
                  elapsed: float, run_protocol: dict | None = None) -> dict:
    """Aggregate the run's samples.jsonl into results.json and scores.json (each written
    atomically) and return the results."""
    wanted = {s["id"] for s in samples}
    # One row per id (the last written), so a row logged twice can never be counted twice.
    rows = list({r["id"]: r for r in fileio.read_jsonl(run / "samples.jsonl")
                 if r["id"] in wanted}.values())
    results = {
        "label": cfg.label or cfg.model,
        "run_id": run.name,
        "metrics": aggregate(rows),
        "config": asdict(cfg),
        # How it was scored (reftbench/evaluation/protocol.py): rows compare only under one.
        "protocol": run_protocol,
        "provenance": provenance.describe(cfg.device),
        "timing": {"generated": generated, "seconds": round(elapsed, 2),
                   "samples_per_second": round(generated / elapsed, 2) if elapsed > 0 else None},
    }
    # The per-question scores first: a results.json is the mark of a finished run.
    scores.write(run, rows)
    fileio.write_json(run / "results.json", results)
    return results


def _generate(backend, batch: list[dict], sampling) -> list[list[str]]:
    """The backend's completions, checked: zip would silently drop samples from the metrics."""
    completions = backend.generate(batch, sampling)
    if len(completions) != len(batch) or any(len(c) != sampling.n for c in completions):
        raise RuntimeError(f"backend returned {len(completions)} results for {len(batch)} "
                           f"prompts ({sampling.n} each expected)")
    return completions


def eval_device(name: str) -> str:
    """The device to generate on (see EvalConfig.device), or a UserError when it cannot be used."""
    import torch

    from reftbench.distributed import device

    try:
        resolved = device(name)
        kind = torch.device(resolved).type
    except (RuntimeError, ValueError):
        raise UserError(f"unknown device '{name}'; use auto, cpu, cuda or cuda:N") from None
    if kind == "cuda" and not torch.cuda.is_available():
        raise UserError(f"device {name}: no CUDA device is visible (torch {torch.__version__}, "
                        f"CUDA build {torch.version.cuda or 'none'}); use --device cpu")
    return resolved


def make_backend(cfg: EvalConfig):
    """Load the whole model on the configured device and dtype (transformers backend), with
    the configured image size."""
    from reftbench.generation.backends import load_backend
    from reftbench.model.processor import set_image_pixels

    dtype = None if cfg.dtype == "auto" else cfg.dtype
    backend = load_backend(cfg.model, cfg.device, dtype, cfg.batch_size)
    if getattr(backend, "processor", None) is not None:
        set_image_pixels(backend.processor, cfg.min_pixels, cfg.max_pixels)
    return backend
