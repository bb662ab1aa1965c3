"""`reftbench compare`: the paper's comparison at small scale, seeds included, resumable.

From one base model, trains every method (default: sft, grpo, curr-rl, curr-reft) for each
seed under the same optimiser-step budget (the `tiny` presets: 150 steps each; curr-reft adds
its short rejection-sampling SFT, as in the paper), evaluates the base (every tier, so the
curriculum's first stages have a measured starting point) and every result on every family's
id and ood test split (open tier) plus the held-out general mixture, with the trainers'
completion length, and writes the leaderboard (mean ± std over seeds). Finished runs are
skipped when it is run again.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from reftbench import fileio
from reftbench.config import merge_overrides, parse_overrides
from reftbench.registry import BUILTIN_TRAINERS
from reftbench.samples import TIERS

# The built-in trainers, in the registry's order (the paper's methods).
METHODS = tuple(BUILTIN_TRAINERS)


@dataclass
class CompareConfig:
    """What to compare and how."""

    # Trainers to run, in order.
    trainers: tuple[str, ...] = METHODS
    # Training seeds (each trainer runs once per seed).
    seeds: tuple[int, ...] = (0, 1, 2)
    # Trainer preset (the same for every method).
    preset: str = "tiny"
    # Evaluate at most this many samples per family x split (open tier).
    eval_limit: int = 500
    # Held-out general-mixture samples scored per model (the general-ability check).
    general: int = 500
    # Extra `--key value` overrides given to every trainer.
    overrides: tuple[str, ...] = ()


def compare(cfg: CompareConfig, output: Path, results_dir: Path, console) -> None:
    """Evaluate the base, train and evaluate every (trainer, seed), then the leaderboard."""
    from reftbench.evaluation.evaluate import EvalConfig
    from reftbench.model.names import resolve_model
    from reftbench.reports.terminal import run_eval, show_leaderboard
    from reftbench.training.run import train

    common = merge_overrides(["--eval_limit", str(cfg.eval_limit), "--eval_general",
                              str(cfg.general)], cfg.overrides)
    check(cfg, common, output, results_dir)
    base = resolve_model("base")
    base_run = results_dir / "runs" / "compare-base"
    fingerprint = _same_base(base, output, base_run)
    timings = _load_timings(output)
    if not (base_run / "results.json").exists():
        console.rule("base model")
        run_eval(EvalConfig(model=base, label="base", limit=cfg.eval_limit,
                            general=cfg.general, run_id="compare-base", tiers=TIERS,
                            max_new_tokens=eval_length(cfg.preset, cfg.overrides)),
                 results_dir, (base_run / "samples.jsonl").exists(), console)
        (base_run / FINGERPRINT).write_text(fingerprint + "\n")
    for seed in cfg.seeds:
        for name in cfg.trainers:
            key = f"{name}-seed{seed}"
            if key in timings:
                console.print(f"{key}: finished earlier ({timings[key]} s), skipping")
                continue
            console.rule(key)
            started = time.perf_counter()
            run_dir = output / key
            own = trainer_overrides(name, cfg.trainers, common)
            skipped = sorted(set(parse_overrides(common)) - set(parse_overrides(own)))
            if skipped:
                console.print(f"{name} has no {', '.join(skipped)}: not passed to it")
            train(name, cfg.preset, overrides=own + ["--seed", str(seed)], output=run_dir,
                  resume=(run_dir / "stages").exists(), results_dir=results_dir, console=console)
            timings[key] = round(time.perf_counter() - started, 1)
            fileio.write_json(output / "timings.json", timings)
    _write_record(cfg, timings, results_dir)
    console.rule("leaderboard")
    show_leaderboard(results_dir, console)


def check(cfg: CompareConfig, common: list[str], output: Path, results_dir: Path) -> None:
    """Every option, before any work (the base evaluation alone takes minutes): the seeds and
    limits, and each trainer's config for each seed as `train` would resolve it (a preset, an
    override key or value, a folder), so a typo never stops the comparison halfway."""
    from reftbench.errors import UserError
    from reftbench.training.run import prepare

    if not cfg.trainers or not cfg.seeds:
        raise UserError("--trainers and --seeds must each name at least one")
    if cfg.eval_limit < 1:
        raise UserError(f"--eval-limit must be at least 1, got {cfg.eval_limit}")
    if cfg.general < 0:
        raise UserError(f"--general must be 0 or more, got {cfg.general}")
    for name in cfg.trainers:
        own = trainer_overrides(name, cfg.trainers, common)
        for seed in cfg.seeds:
            prepare(name, cfg.preset, None, own + ["--seed", str(seed)],
                    output / f"{name}-seed{seed}", False, results_dir)
    eval_length(cfg.preset, cfg.overrides)
    fileio.check_writable_dir(results_dir / "runs")


def trainer_overrides(name: str, trainers, overrides: list[str]) -> list[str]:
    """The `--key value` overrides that trainer `name`'s config has a field for (a GRPO setting
    such as --accuracy_reward is not an SFT one); a key that none of `trainers` has is an error."""
    from dataclasses import fields

    from reftbench.errors import UserError
    from reftbench.registry import load_trainer

    given = parse_overrides(list(overrides))
    known = {t: {f.name for f in fields(load_trainer(t).config_cls)} for t in {*trainers, name}}
    for key in given:
        if not any(key in names for names in known.values()):
            raise UserError(f"--{key} is not a setting of any compared trainer "
                            f"({', '.join(trainers)})")
    return [part for key, value in given.items() if key in known[name]
            for part in (f"--{key}", value)]


def eval_length(preset: str, overrides: tuple[str, ...] = ()) -> int:
    """The final evaluations' completion length under `preset` and `overrides` (the trainers'
    eval_max_new_tokens), so the base is scored with the same room as every trained model."""
    from reftbench.config import parse_overrides, resolve
    from reftbench.registry import load_trainer
    from reftbench.training.config import validate

    plugin = load_trainer("grpo")
    given = parse_overrides(list(overrides)).get("eval_max_new_tokens")
    cfg = resolve(plugin.config_cls, plugin.presets, preset,
                  overrides=None if given is None else {"eval_max_new_tokens": given})
    validate(cfg)
    return cfg.eval_max_new_tokens


# Written beside the base's results and in the training-runs folder: which base model they used.
FINGERPRINT = "base_fingerprint.txt"


def _same_base(base: str, output: Path, base_run: Path) -> str:
    """The base model's fingerprint; a UserError when earlier work in `output` or `base_run`
    came from another base model (resuming would mix two bases in one table)."""
    from reftbench.errors import UserError
    from reftbench.provenance import model_fingerprint

    fingerprint = model_fingerprint(base)
    # (a file that says work was done there, the fingerprint file, the option that moves it)
    checks = ((output / "timings.json", output / FINGERPRINT, output, "--output"),
              (base_run / "results.json", base_run / FINGERPRINT, base_run, "--results-dir"))
    for started, marker, folder, option in checks:
        recorded = marker.read_text().strip() if marker.exists() else None
        if started.exists() and recorded != fingerprint:
            raise UserError(f"{folder} holds runs made from another base model "
                            f"({recorded or 'not recorded'}; the base is now {fingerprint}): "
                            f"pass a new {option} or move those runs aside")
    output.mkdir(parents=True, exist_ok=True)
    (output / FINGERPRINT).write_text(fingerprint + "\n")
    return fingerprint


def _write_record(cfg: CompareConfig, timings: dict, results_dir: Path) -> None:
    """results/compare.json: the command, the machine, the commit and each run's wall time
    (the leaderboard prints it under the table)."""
    import sys
    from dataclasses import asdict

    from reftbench import provenance

    fileio.write_json(results_dir / "compare.json", {
        "command": " ".join(["reftbench", *sys.argv[1:]]),
        "config": asdict(cfg),
        "provenance": provenance.describe(),
        "timings": timings,
        "total_seconds": round(sum(timings.values()), 1),
    })


def _load_timings(output: Path) -> dict:
    import json

    path = output / "timings.json"
    return json.loads(path.read_text()) if path.exists() else {}
