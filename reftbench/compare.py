"""`reftbench compare`: the paper's comparison at small scale, seeds included, resumable.

From one base model, trains every method (default: sft, grpo, curr-rl, curr-reft) for each
seed under the same optimiser-step budget (the `tiny` presets: 150 steps each; curr-reft adds
its short rejection-sampling SFT, as in the paper), evaluates the base (every tier, so the
curriculum's first stages have a measured starting point) and every result on every family's
id and ood test split (open tier) plus the held-out general mixture, with the trainers'
completion length, and writes the leaderboard (mean ± std over seeds, differences from the
base with intervals, the claims' verdicts). Finished runs are skipped when it is run again.

Into the committed reference folder (results/) it writes only from a checkout whose code is
committed, so that every run names the commit that made it (`--allow-dirty` to override; the
record says so). `--plan EFFECT` runs nothing: from the runs already in the results folder (a
finished comparison or a pilot) it prints how many seeds, or questions per cell, a difference
of EFFECT points needs (reftbench.reports.power). `--jobs N` trains N runs at once, each a
`reftbench train` process (reftbench.compare_jobs).

A trainer may be named with a schedule (docs/schedules.md): `curr-rl:bandit`, `curr-rl:plateau`,
`curr-rl:fixed+skip` run curr-rl under that schedule, as their own leaderboard rows; the budget
each run spent (steps, completions, groups with signal) goes to SCHEDULES.md beside it:

    reftbench compare --trainers curr-rl,curr-rl:plateau,curr-rl:bandit \
        --results-dir outputs/schedules --output outputs/compare-schedules
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
    # Write into the committed results/ from a checkout with uncommitted code changes.
    allow_dirty: bool = False
    # Runs trained at once, each a `reftbench train` process with its share of the CPU threads
    # (and one GPU each, in turn, where there are GPUs); 1 trains them one after another here.
    jobs: int = 1


def compare(cfg: CompareConfig, output: Path, results_dir: Path, console) -> None:
    """Evaluate the base, train and evaluate every (trainer, seed), then the leaderboard."""
    from reftbench.reports.terminal import run_eval, show_leaderboard
    from reftbench.training.run import train

    check_tree(results_dir, cfg.allow_dirty)
    common = merge_overrides(["--eval_limit", str(cfg.eval_limit), "--eval_general",
                              str(cfg.general)], cfg.overrides)
    check(cfg, common, output, results_dir)
    first = split_variant(cfg.trainers[0])[0]
    # The base row: the comparison's own start model, data, families and protocol (every tier,
    # so the curriculum's first stages have a measured starting point).
    base_cfg = base_eval_config(first, cfg.preset, trainer_overrides(first, cfg.trainers, common),
                                run_id="compare-base", tiers=TIERS)
    base_run = results_dir / "runs" / "compare-base"
    fingerprint = _same_base(base_cfg.model, output, base_run)
    timings = _load_timings(output)
    if not (base_run / "results.json").exists():
        console.rule(f"base model ({base_cfg.model})")
        run_eval(base_cfg, results_dir, (base_run / "samples.jsonl").exists(), console)
        (base_run / FINGERPRINT).write_text(fingerprint + "\n")

    def record(key: str, seconds: float) -> None:
        timings[key] = seconds
        fileio.write_json(output / "timings.json", timings)

    pending = []
    for seed in cfg.seeds:
        for spec in cfg.trainers:
            name, variant = split_variant(spec)
            key = f"{run_name(spec)}-seed{seed}"
            if key in timings:
                console.print(f"{key}: finished earlier ({timings[key]} s), skipping")
                continue
            own = trainer_overrides(name, cfg.trainers, common) + variant
            skipped = sorted(set(parse_overrides(common)) - set(parse_overrides(own)))
            if skipped:
                console.print(f"{name} has no {', '.join(skipped)}: not passed to it")
            pending.append((key, name, own + ["--seed", str(seed)], output / key))
    if cfg.jobs > 1 and len(pending) > 1:
        from reftbench.compare_jobs import Job, run_jobs

        run_jobs([Job(key, train_args(name, cfg.preset, args, run_dir, results_dir), run_dir)
                  for key, name, args, run_dir in pending], cfg.jobs, record, console)
    else:
        for key, name, args, run_dir in pending:
            console.rule(key)
            started = time.perf_counter()
            train(name, cfg.preset, overrides=args, output=run_dir,
                  resume=(run_dir / "stages").exists(), results_dir=results_dir,
                  console=console)
            record(key, round(time.perf_counter() - started, 1))
    _write_record(cfg, timings, results_dir)
    console.rule("leaderboard")
    show_leaderboard(results_dir, console)  # a schedules comparison: against fixed
    if any(":" in spec for spec in cfg.trainers):
        from reftbench.reports.schedules import write_schedules

        runs = {spec: {seed: output / f"{run_name(spec)}-seed{seed}" for seed in cfg.seeds}
                for spec in cfg.trainers}
        path = write_schedules(runs, results_dir)
        console.print(f"budgets and steps to the fixed schedule's reward: {path}")


def split_variant(spec: str) -> tuple[str, list[str]]:
    """"curr-rl:bandit" -> ("curr-rl", ["--schedule", "bandit"]); "curr-rl:fixed+skip" also
    sets skip_zero_spread; a plain name has no overrides. A UserError for an unknown schedule
    or a trainer without schedules."""
    from dataclasses import fields

    from reftbench.errors import UserError
    from reftbench.registry import check_names, load_trainer
    from reftbench.training.config import SCHEDULES

    name, _, variant = spec.partition(":")
    if not variant:
        return name, []
    schedule, plus, extra = variant.partition("+")
    check_names("schedule", [schedule], SCHEDULES)
    if plus and extra != "skip":
        raise UserError(f"{spec}: after '+' only 'skip' (skip_zero_spread) is known")
    if "schedule" not in {f.name for f in fields(load_trainer(name).config_cls)}:
        raise UserError(f"{spec}: trainer {name} has no schedule (curr-rl and curr-reft have)")
    return name, ["--schedule", schedule] + (["--skip_zero_spread", "true"] if plus else [])


def train_args(name: str, preset: str, overrides: list[str], run_dir: Path,
               results_dir: Path) -> list[str]:
    """The `reftbench train` arguments of one comparison run, as the sequential loop trains it
    (`--resume` when its folder already holds stages)."""
    resume = ["--resume"] if (run_dir / "stages").exists() else []
    return [name, "--preset", preset, "--output", str(run_dir), "--results-dir",
            str(results_dir), *resume, *overrides]


def run_name(spec: str) -> str:
    """A trainer spec as a folder name: "curr-rl:fixed+skip" -> "curr-rl-fixed-skip"."""
    return spec.replace(":", "-").replace("+", "-")


def check_tree(results_dir: Path, allow_dirty: bool) -> None:
    """A UserError when `results_dir` is (inside) the committed results/ and the checkout's code
    has uncommitted changes: those runs would name a commit that did not make them."""
    from reftbench import provenance
    from reftbench.errors import UserError

    target, committed = Path(results_dir).resolve(), provenance.COMMITTED_RESULTS.resolve()
    if allow_dirty or (target != committed and committed not in target.parents):
        return
    changed = provenance.changed_files()
    if changed:
        shown = ", ".join(changed[:3]) + (f" and {len(changed) - 3} more" if len(changed) > 3
                                          else "")
        raise UserError(f"{results_dir} holds the committed reference runs and this checkout "
                        f"has uncommitted changes ({shown}): commit them first, so that every "
                        "run names the commit that made it, or pass --allow-dirty")


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
    if cfg.jobs < 1:
        raise UserError(f"--jobs must be at least 1, got {cfg.jobs}")
    for spec in cfg.trainers:
        name, variant = split_variant(spec)
        own = trainer_overrides(name, cfg.trainers, common) + variant
        for seed in cfg.seeds:
            prepare(name, cfg.preset, None, own + ["--seed", str(seed)],
                    output / f"{run_name(spec)}-seed{seed}", False, results_dir)
    fileio.check_writable_dir(results_dir / "runs")


def trainer_overrides(name: str, trainers, overrides: list[str]) -> list[str]:
    """The `--key value` overrides that trainer `name`'s config has a field for (a GRPO setting
    such as --accuracy_reward is not an SFT one); a key that none of `trainers` has is an error."""
    from dataclasses import fields

    from reftbench.errors import UserError
    from reftbench.registry import load_trainer

    given = parse_overrides(list(overrides))
    trainers = [t.partition(":")[0] for t in trainers]
    known = {t: {f.name for f in fields(load_trainer(t).config_cls)} for t in {*trainers, name}}
    for key in given:
        if not any(key in names for names in known.values()):
            raise UserError(f"--{key} is not a setting of any compared trainer "
                            f"({', '.join(trainers)})")
    return [part for key, value in given.items() if key in known[name]
            for part in (f"--{key}", value)]


def base_eval_config(trainer: str, preset: str, overrides: list[str], run_id: str,
                     tiers: tuple[str, ...] = ("open",)):
    """The start model's evaluation under the protocol `trainer` would evaluate its own result
    with (reftbench/training/run.py `final_eval_config`): the same model, data, families, image
    size, dtype, length and test size as every trained row, from the same preset and overrides."""
    from reftbench.config import resolve
    from reftbench.model.names import resolve_model
    from reftbench.registry import load_trainer
    from reftbench.training.config import validate
    from reftbench.training.run import final_eval_config, row_label

    plugin = load_trainer(trainer)
    cfg = resolve(plugin.config_cls, plugin.presets, preset, overrides=parse_overrides(overrides))
    validate(cfg)
    return final_eval_config(cfg, resolve_model(cfg.model), row_label("base", cfg), run_id,
                             tiers=tiers)


# Written beside the base's results and in the training-runs folder: which base model they used.
FINGERPRINT = "base_fingerprint.txt"


def _same_base(base: str, output: Path, base_run: Path) -> str:
    """The base model's fingerprint; a UserError when earlier work in `output` or `base_run`
    came from another base model (resuming would mix two bases in one table)."""
    from reftbench.errors import UserError
    from reftbench.evaluation.run_identity import model_identity

    fingerprint = model_identity(base)
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
