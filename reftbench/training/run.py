"""`reftbench train NAME`: resolve the config, check the data, run the stages, evaluate.

Everything that is the same for every trainer happens here, once: config resolution (preset,
YAML, overrides), the model check, the train/test overlap check, the resumable stage pipeline,
the budget the GRPO stages spent (budget.json), the reward-curve plot and the final evaluation
into the results folder (`--results-dir`, default outputs/results). Under `accelerate launch` every
process trains; only the main process writes run files, plots and evaluates.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import time
from dataclasses import asdict
from pathlib import Path

from tasks import benchmark_families

from reftbench import fileio, provenance
from reftbench.config import resolve
from reftbench.errors import UserError
from reftbench.model.names import check_room, resolve_model
from reftbench.paths import OUTPUTS, RESULTS
from reftbench.registry import check_names, load_trainer
from reftbench.runlock import LOCK_NAME
from reftbench.training.config import batch_record, validate

# Settings a resumed run may change: how it logs, saves, stops and evaluates, never what it
# trains. The new values are recorded in config.json (with the old ones under "resumes").
RESUME_MAY_CHANGE = {"logging_steps", "save_steps", "max_minutes", "evaluate", "eval_batch_size",
                     "keep_every", "keep_last"}


def prepare(name: str, preset: str, config_path, overrides, output: Path | None, resume: bool,
            results_dir: Path = RESULTS):
    """Plugin, resolved config, stages, run folder and start model, every check done up front:
    nothing is loaded and no folder is made before the whole command is known to be sound."""
    from reftbench.distributed import check_launcher

    plugin = load_trainer(name)
    cfg = resolve(plugin.config_cls, plugin.presets, preset, config_path, overrides)
    validate(cfg)
    check_launcher()
    check_names("task family", cfg.families, benchmark_families())
    stages = plugin.plan(cfg)  # a plan's own checks (a curriculum's lengths) fail here
    check_engines(cfg)
    model = resolve_model(cfg.model, build=False)
    for key in ("eval_max_new_tokens", "max_completion_length"):
        if hasattr(cfg, key):
            check_room(cfg.model, getattr(cfg, key), f"config key '{key}'")
    run_dir = fileio.check_writable_dir(output or OUTPUTS / f"{name}-seed{cfg.seed}")
    if cfg.evaluate:  # found now, not after hours of training
        fileio.check_writable_dir(Path(results_dir) / "runs")
    return plugin, cfg, stages, run_dir, model


def check_run_folder(run_dir: Path, name: str, model: str, resume: bool, cfg) -> None:
    """A new run needs a folder that is empty or holds a training run (a model folder, an eval
    run or anyone's files must not get a config.json and stages/); a resumed one, a run of the
    same trainer started from the same model with the same settings (checked while holding
    the folder's lock)."""
    from reftbench.training.pipeline import check_fresh

    record = run_record(run_dir)
    others = sorted(p.name for p in run_dir.iterdir() if p.name != LOCK_NAME) \
        if run_dir.is_dir() else []
    if others and record is None:
        listed = ", ".join(others[:3]) + (", ..." if len(others) > 3 else "")
        raise UserError(f"{run_dir} is not empty and holds no reftbench training run (it has "
                        f"{listed}); pass --output an empty or new folder")
    check_fresh(run_dir, resume)
    if resume:
        if record is not None and record["trainer"] != name:
            raise UserError(f"--resume: {run_dir} holds a {record['trainer']} run, not {name}; "
                            f"resume it with `reftbench train {record['trainer']} --resume`, or "
                            "pass --output to start a new run")
        check_same_start(run_dir, model)
        check_same_settings(run_dir, cfg)


def check_engines(cfg) -> None:
    """Fail before any work, not at the stage that needs it: vLLM asked for but unusable, an
    unknown rejection-sampling engine, a tracker whose package is missing."""
    from reftbench.generation.backends import ENGINES
    from reftbench.training.trl_common import check_reporters

    engine = getattr(cfg, "rs_engine", "auto")
    check_names("generation engine", [engine], ENGINES)
    if getattr(cfg, "use_vllm", False) or engine == "vllm":
        from reftbench.generation.vllm_backend import require_vllm

        require_vllm()
    check_reporters(cfg)


def start_fingerprint(model: str) -> str | None:
    """The start model's fingerprint when it is a local folder (presets and hub ids: None)."""
    return provenance.model_fingerprint(model) if Path(model).is_dir() else None


def run_record(run_dir: Path) -> dict | None:
    """The run's config.json when it is a training run's record (trainer, config); None when
    there is none, or it is another kind of file (a model's config.json)."""
    record = _recorded(run_dir)
    if isinstance(record.get("trainer"), str) and isinstance(record.get("config"), dict):
        return record
    return None


def _recorded(run_dir: Path) -> dict:
    """The run's config.json as a mapping ({} when there is none, or it is not a mapping); a
    UserError when it cannot be read."""
    path = run_dir / "config.json"
    if not path.is_file():
        return {}
    try:
        record = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise UserError(f"{path} cannot be read ({str(exc)[:200]}); pass --output to start a "
                        "new run") from None
    return record if isinstance(record, dict) else {}


def check_same_start(run_dir: Path, model: str) -> None:
    """Refuse to resume a run whose finished stages came from another start model (a base
    rebuilt or replaced at the same path): they would be chained onto the wrong model."""
    recorded = _recorded(run_dir).get("start_fingerprint")
    current = start_fingerprint(model)
    if recorded and current and recorded != current:
        raise UserError(f"--resume: {run_dir} was started from another model at {model} "
                        f"(fingerprint {recorded}, now {current}); pass --output to start a new run")


def changed_settings(recorded: dict, cfg) -> dict[str, tuple]:
    """Config key -> (recorded, current) for every key whose value differs (keys the run did
    not record, from an older reftbench, cannot be compared and are left out)."""
    current = json.loads(json.dumps(asdict(cfg)))
    return {k: (recorded[k], v) for k, v in current.items() if k in recorded and recorded[k] != v}


def check_same_settings(run_dir: Path, cfg) -> None:
    """Refuse to resume with a setting that changes what is trained: the finished stages and
    checkpoints were made with the recorded value. Only RESUME_MAY_CHANGE keys may differ."""
    changed = {k: v for k, v in changed_settings(_recorded(run_dir).get("config", {}), cfg).items()
               if k not in RESUME_MAY_CHANGE}
    if changed:
        listed = ", ".join(f"{k} {old!r} -> {new!r}" for k, (old, new) in changed.items())
        raise UserError(f"--resume: {run_dir} was started with other settings ({listed}); "
                        "resume with the recorded ones (its config.json), or pass --output to "
                        "start a new run")


def check_data(cfg, log=print) -> None:
    """Every training sample must be absent from every test split (the same question and image,
    reftbench/training/overlap.py), or dropped with `drop_overlap`; a replay file, if any, must
    be readable."""
    from reftbench.training.overlap import check_no_overlap
    from reftbench.training.splits import overlap, test_samples, train_samples

    if getattr(cfg, "drop_overlap", False):
        pairs = overlap(cfg)
        if pairs:
            log(f"drop_overlap: {len(pairs)} training row(s) also appear in a test split and are "
                f"not trained on (e.g. {pairs[0][0]} = {pairs[0][1]})")
    else:
        # Real data may hold a test image saved again; generated splits repeat only byte for byte.
        check_no_overlap(train_samples(cfg), test_samples(cfg), perceptual=bool(cfg.data))
    if getattr(cfg, "replay_data", ""):  # curr-reft: a bad file stops the run now, not after RL
        from reftbench.training.replay import load_replay

        load_replay(cfg.replay_data, cfg.replay_image_root, cfg.data_strict)
    elif (cfg.data and getattr(cfg, "replay_ratio", 0) > 0
          and not getattr(cfg, "replay_synthetic", True)):
        raise UserError("--data without --replay_data: the rejection-sampling SFT would replay "
                        "the embedded model's generated shapes mixture; pass --replay_data FILE "
                        "(your general data), --replay_ratio 0 (no replay) or --replay_synthetic "
                        "true")


def train(name: str, preset: str = "tiny", config_path: Path | None = None,
          overrides=None, output: Path | None = None, resume: bool = False,
          results_dir: Path = RESULTS, console=None) -> dict:
    """Run a trainer end to end; return {"model": final folder, "results": eval results or None}."""
    from reftbench.reports.terminal import progress_bar
    from reftbench.training.pipeline import run_stages
    from reftbench.training.plots import plot_curves
    from reftbench.training.schedule.record import write_run_budget

    from reftbench.runlock import hold
    from reftbench.distributed import is_main, main_decides, main_first

    plugin, cfg, stages, run_dir, model = prepare(name, preset, config_path, overrides, output,
                                                  resume, results_dir)
    # The cleanup goes outside the lock: the lock makes the folder, and leaves it when it is let go.
    with removed_if_start_fails(run_dir), hold(run_dir, "training"):
        main_decides(lambda: check_run_folder(run_dir, plugin.name, model, resume, cfg))
        log = console.print if console else print
        main = is_main()
        with main_first():  # the main process builds the data, the others reuse it
            check_data(cfg, log if main else (lambda *a: None))
        with progress_bar(console) if console and main else contextlib.nullcontext() as bar:
            # Made (the start model hashed, the file written) by the main process alone.
            meta = main_decides(lambda: _run_meta(run_dir, plugin.name, preset, cfg, resume, model))
            final = run_stages(stages, model, run_dir, meta, progress=bar, log=log)
        if main:
            write_run_budget(run_dir, {"trainer": plugin.name, **schedule_settings(cfg)})
            plot_curves(sorted((run_dir / "stages").glob("*/metrics.jsonl")),
                        run_dir / "reward_curve.png")
        results = _evaluate(cfg, plugin.name, final, run_dir, meta, results_dir, console) \
            if cfg.evaluate else None
    return {"model": str(final), "results": results if main else None, "run_dir": str(run_dir)}


def schedule_settings(cfg) -> dict:
    """The schedule a run trained under (the fixed one for trainers without a schedule)."""
    return {"schedule": getattr(cfg, "schedule", "fixed"),
            "skip_zero_spread": getattr(cfg, "skip_zero_spread", False)}


def run_label(name: str, cfg) -> str:
    """The run's leaderboard row: the trainer, its schedule unless fixed (`curr-rl:bandit`,
    `curr-rl:fixed+skip`), and a real-data folder's name (`grpo@mydata`), so rows of different
    schedules or data are never averaged together."""
    settings = schedule_settings(cfg)
    variant = settings["schedule"] + ("+skip" if settings["skip_zero_spread"] else "")
    return row_label(name if variant == "fixed" else f"{name}:{variant}", cfg)


def _run_meta(run_dir: Path, name: str, preset: str, cfg, resume: bool, model: str) -> dict:
    """The resolved config + provenance, written when the run starts. A resume keeps it, save
    for the RESUME_MAY_CHANGE settings: their new values replace the old, which are listed
    under "resumes" (prepare() refused every other change). The main process's job."""
    path = run_dir / "config.json"
    if resume and path.exists():
        meta = json.loads(path.read_text())
        changed = changed_settings(meta["config"], cfg)
        if not changed:
            return meta
        meta["config"] = json.loads(json.dumps(asdict(cfg)))
        meta.setdefault("resumes", []).append({"date": time.strftime("%Y%m%d-%H%M%S"),
                                               "changed": changed})
    else:
        meta = {"trainer": name, "preset": preset, "config": asdict(cfg),
                "batch": batch_record(cfg),
                "start_fingerprint": start_fingerprint(model),
                "provenance": provenance.describe(cfg.dtype),
                "started": time.strftime("%Y%m%d-%H%M%S")}
    fileio.write_json(path, meta)
    return meta


def made_progress(run_dir: Path) -> bool:
    """True once a stage saved anything a resume can continue from."""
    stages = run_dir / "stages"
    return any(any(stages.glob(f"*/{pattern}"))
               for pattern in ("stage.json", "trainer/checkpoint-*", "samples.jsonl", "model"))


@contextlib.contextmanager
def removed_if_start_fails(run_dir: Path):
    """On an error before any stage made progress, remove what this start wrote in run_dir
    (config.json, empty stage folders), so the corrected command is not told "already holds
    a run". Ctrl-C and kills keep everything: the message says to resume."""
    from reftbench.distributed import is_main

    existed, had_config = run_dir.exists(), (run_dir / "config.json").exists()
    had_stages = (run_dir / "stages").exists()
    try:
        yield
    except Exception:
        if is_main() and not made_progress(run_dir):
            if not had_stages:
                shutil.rmtree(run_dir / "stages", ignore_errors=True)
            if not had_config:
                (run_dir / "config.json").unlink(missing_ok=True)
            if not existed and run_dir.is_dir() and not any(run_dir.iterdir()):
                run_dir.rmdir()
        raise


def final_eval_config(cfg, model: str, label: str, run_id: str, extra: dict | None = None,
                      tiers: tuple[str, ...] = ("open",)):
    """The evaluation protocol of a training config, for `model`: what every row of one
    comparison is scored under (the base in `compare`/`demo` and every trained model alike), so
    their length, image size, dtype, data, sampling and test size can never differ."""
    from reftbench.evaluation.evaluate import EvalConfig

    return EvalConfig(model=model, label=label, families=cfg.families, tiers=tiers,
                      n_test=cfg.n_test, limit=cfg.eval_limit, batch_size=cfg.eval_batch_size,
                      seed=cfg.data_seed, general=cfg.eval_general, data=cfg.data,
                      strict=cfg.data_strict, image_root=cfg.data_image_root,
                      max_pixels=cfg.max_pixels, min_pixels=cfg.min_pixels,
                      samples=cfg.eval_samples, max_new_tokens=cfg.eval_max_new_tokens,
                      dtype=cfg.dtype, run_id=run_id, extra=dict(extra or {}))


def row_label(name: str, cfg) -> str:
    """A leaderboard row's label: real-data runs get their own row, never averaged with
    generated-data runs."""
    return f"{name}@{Path(cfg.data).resolve().name}" if cfg.data else name


def _evaluate(cfg, name: str, final: Path, run_dir: Path, meta: dict, results_dir: Path, console):
    """Open-tier, id + ood evaluation of the final model into <results_dir>/runs, on every rank's
    device, under the run's evaluation protocol (`final_eval_config`)."""
    from reftbench.evaluation.evaluate import evaluate
    from reftbench.reports.terminal import run_eval

    # Runs of other schedules or real data get their own leaderboard rows (run_label).
    ecfg = final_eval_config(cfg, str(final), run_label(name, cfg),
                             run_id=f"{run_dir.name}-{meta['started']}",
                             extra={"trainer": name, "seed": cfg.seed, "train_dir": str(run_dir),
                                    **schedule_settings(cfg)})
    resume = (results_dir / "runs" / ecfg.run_id / "samples.jsonl").exists()
    if console:
        return run_eval(ecfg, results_dir, resume, console)
    return evaluate(ecfg, results_dir, resume=resume)
