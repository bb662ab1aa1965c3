"""`reftbench train NAME`: resolve the config, check the data, run the stages, evaluate.

Everything that is the same for every trainer happens here, once: config resolution (preset,
YAML, overrides), the model check, the train/test overlap check, the resumable stage pipeline,
the reward-curve plot and the final evaluation into results/. Under `accelerate launch` every
process trains and evaluates its share of the test samples on its own device; only the main
process writes run files, plots and results. A second process on a run folder in use stops.
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import asdict
from pathlib import Path

from reftbench import fileio, provenance
from reftbench.config import resolve
from reftbench.errors import UserError
from reftbench.registry import check_names, load_trainer
from reftbench.samples import FAMILIES


def resolve_model(name: str) -> str:
    """'base' -> the built embedded base model; presets and paths pass through, checked."""
    from reftbench.model.load import is_preset

    if name == "base":
        from reftbench.base_model import find_base

        base = find_base()
        if base is None:
            raise UserError("the embedded base model is missing: run `reftbench base` first")
        return str(base)
    if is_preset(name) or Path(name).exists() or "/" in name and not name.startswith((".", "/")):
        return name
    raise UserError(f"model '{name}' is neither a preset (micro, tiny, small, base) "
                    "nor an existing folder")


def prepare(name: str, preset: str, config_path, overrides, output: Path | None, resume: bool):
    """Plugin, resolved config, run folder and start model, with every check done up front."""
    plugin = load_trainer(name)
    cfg = resolve(plugin.config_cls, plugin.presets, preset, config_path, overrides)
    check_names("task family", cfg.families, FAMILIES)
    check_engines(cfg)
    model = resolve_model(cfg.model)
    run_dir = output or Path("outputs") / f"{name}-seed{cfg.seed}"
    return plugin, cfg, run_dir, model


def check_run_folder(run_dir: Path, model: str, resume: bool) -> None:
    """A new run needs an empty folder; a resumed one, a run started from the same model."""
    from reftbench.training.pipeline import check_fresh

    check_fresh(run_dir, resume)
    if resume:
        check_same_start(run_dir, model)


def check_engines(cfg) -> None:
    """Fail before any work, not at the stage that needs it: vLLM asked for but unusable, an
    unknown rejection-sampling engine, a tracker whose package is missing."""
    from reftbench.generation import ENGINES
    from reftbench.registry import check_names
    from reftbench.training.trl_common import check_reporters

    engine = getattr(cfg, "rs_engine", "auto")
    check_names("generation engine", [engine], ENGINES)
    if getattr(cfg, "use_vllm", False) or engine == "vllm":
        from reftbench.generation_vllm import require_vllm

        require_vllm()
    check_reporters(cfg)


def start_fingerprint(model: str) -> str | None:
    """The start model's fingerprint when it is a local folder (presets and hub ids: None)."""
    return provenance.model_fingerprint(model) if Path(model).is_dir() else None


def check_same_start(run_dir: Path, model: str) -> None:
    """Refuse to resume a run whose finished stages came from another start model (a base
    rebuilt or replaced at the same path): they would be chained onto the wrong model."""
    import json

    path = run_dir / "config.json"
    recorded = json.loads(path.read_text()).get("start_fingerprint") if path.exists() else None
    current = start_fingerprint(model)
    if recorded and current and recorded != current:
        raise UserError(f"--resume: {run_dir} was started from another model at {model} "
                        f"(fingerprint {recorded}, now {current}); pass --output to start a new run")


def check_data(cfg) -> None:
    """Every training sample must be absent from every test split (image bytes + question),
    and a replay file, if any, must be readable."""
    from reftbench.training.overlap import check_no_overlap
    from reftbench.training.splits import test_samples, train_samples

    check_no_overlap(train_samples(cfg), test_samples(cfg))
    if getattr(cfg, "replay_data", ""):  # curr-reft: a bad file stops the run now, not after RL
        from reftbench.training.replay import load_replay

        load_replay(cfg.replay_data, cfg.replay_image_root, cfg.data_strict)


def train(name: str, preset: str = "tiny", config_path: Path | None = None,
          overrides=None, output: Path | None = None, resume: bool = False,
          results_dir: Path = Path("results"), console=None) -> dict:
    """Run a trainer end to end; return {"model": final folder, "results": eval results or None}."""
    from reftbench.report import progress_bar
    from reftbench.training.pipeline import run_stages
    from reftbench.training.plots import plot_curves

    from reftbench.runlock import hold
    from reftbench.training.distributed import is_main, main_decides, main_first

    plugin, cfg, run_dir, model = prepare(name, preset, config_path, overrides, output, resume)
    with hold(run_dir, "training"):
        main_decides(lambda: check_run_folder(run_dir, model, resume))
        with main_first():  # the main process builds the data, the others reuse it
            check_data(cfg)
        meta = _run_meta(run_dir, plugin.name, preset, cfg, resume, model)
        log = console.print if console else print
        main = is_main()
        with progress_bar(console) if console and main else contextlib.nullcontext() as bar:
            final = run_stages(plugin.plan(cfg), model, run_dir, meta, progress=bar, log=log)
        if main:
            plot_curves(sorted((run_dir / "stages").glob("*/metrics.jsonl")),
                        run_dir / "reward_curve.png")
        results = _evaluate(cfg, plugin.name, final, run_dir, meta, results_dir, console) \
            if cfg.evaluate else None
    return {"model": str(final), "results": results if main else None, "run_dir": str(run_dir)}


def _run_meta(run_dir: Path, name: str, preset: str, cfg, resume: bool, model: str) -> dict:
    """The resolved config + provenance, written once per run (kept as-is on resume)."""
    path = run_dir / "config.json"
    if resume and path.exists():
        import json

        return json.loads(path.read_text())
    meta = {"trainer": name, "preset": preset, "config": asdict(cfg),
            "start_fingerprint": start_fingerprint(model),
            "provenance": provenance.describe(cfg.dtype), "started": time.strftime("%Y%m%d-%H%M%S")}
    from reftbench.training.distributed import is_main

    if is_main():
        fileio.write_json(path, meta)
    return meta


def _evaluate(cfg, name: str, final: Path, run_dir: Path, meta: dict, results_dir: Path, console):
    """Open-tier, id + ood evaluation of the final model into results/runs, on every rank's
    device, with the completion length the model was trained to (a think-then-answer
    completion cut short is scored as unformatted)."""
    from reftbench.evaluate import EvalConfig, evaluate
    from reftbench.report import run_eval

    # Real-data runs get their own leaderboard row, never averaged with generated-data runs.
    label = f"{name}@{Path(cfg.data).resolve().name}" if cfg.data else name
    length = getattr(cfg, "max_completion_length", EvalConfig.max_new_tokens)
    ecfg = EvalConfig(model=str(final), label=label, families=cfg.families, n_test=cfg.n_test,
                      limit=cfg.eval_limit, batch_size=cfg.eval_batch_size, seed=cfg.data_seed,
                      general=cfg.eval_general, data=cfg.data, strict=cfg.data_strict,
                      image_root=cfg.data_image_root, max_pixels=cfg.max_pixels,
                      min_pixels=cfg.min_pixels, samples=cfg.eval_samples,
                      max_new_tokens=length, dtype=cfg.dtype,
                      run_id=f"{run_dir.name}-{meta['started']}",
                      extra={"trainer": name, "seed": cfg.seed, "train_dir": str(run_dir)})
    resume = (results_dir / "runs" / ecfg.run_id / "samples.jsonl").exists()
    if console:
        return run_eval(ecfg, results_dir, resume, console)
    return evaluate(ecfg, results_dir, resume=resume)
