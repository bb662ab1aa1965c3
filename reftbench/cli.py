"""The `reftbench` command line (typer + rich).

    reftbench data                      generate every task split (cached)
    reftbench eval                      evaluate the trained base model on every family
    reftbench leaderboard               print the table of your runs (outputs/results)
    reftbench train curr-reft           train (see `reftbench train --list`)

Heavy libraries are imported inside commands, so `--help` and listings stay fast. A
`UserError` becomes one red line and exit status 2 (a traceback only with --debug).
"""

from __future__ import annotations

import contextlib
import io
import sys
import warnings
from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape
from typer.core import TyperArgument, TyperCommand, TyperGroup, TyperOption

from tasks import benchmark_families

from reftbench.compare import METHODS
from reftbench.errors import UserError
from reftbench.paths import COMPARE_RUNS, DEMO_RESULTS, DEMO_RUNS, RESULTS
from reftbench.samples import FAMILIES, TEST_SPLITS, TIERS


class PlainTypes:
    """Option types in --help as typer CLIs usually print them: TEXT, INTEGER, PATH beside an
    option that takes a value, nothing beside a flag (this typer would print <str>, <bool>)."""

    NAMES = {"str": "TEXT", "int": "INTEGER", "float": "FLOAT", "path": "PATH"}

    def get_params(self, ctx):
        params = super().get_params(ctx)
        for param in params:
            if not hasattr(param, "display_type"):  # older typers print TEXT already
                continue
            kind = param.display_type(ctx).strip("<>")
            label = self.NAMES.get(kind, kind.upper())
            if isinstance(param, TyperOption) and param.metavar is None:
                param.metavar = "" if param.is_flag else label
            elif isinstance(param, TyperArgument):  # its metavar names it; the type column:
                param.display_type_rich = lambda ctx, label=label: label
        return params


class Command(PlainTypes, TyperCommand):
    """Every command's class (see PlainTypes)."""


class Group(PlainTypes, TyperGroup):
    """The app's class (see PlainTypes)."""


# Commands that pass unknown `--key value` pairs on as config overrides.
EXTRA_ARGS = {"allow_extra_args": True, "ignore_unknown_options": True}
app = typer.Typer(add_completion=False, no_args_is_help=True, cls=Group,
                  help="Curr-ReFT and its baselines for small vision-language models.",
                  epilog="Example: reftbench eval --limit 50 (the trained base model)")


class StdoutLost(Exception):
    """Standard output cannot be written any more (a closed pipe, a full disk)."""


class Stdout:
    """A standard output whose failed write is raised as StdoutLost (rich would exit 1 without
    a word on a closed pipe, and give a traceback on `> /dev/full`); `main` puts one in place
    of sys.stdout for the command, so typer's help and usage go through it too, and turns the
    error into one line on stderr."""

    def __init__(self, stream):
        self.stream = stream

    def write(self, text: str) -> int:
        try:
            return self.stream.write(text)
        except OSError as exc:
            raise StdoutLost(exc.strerror or str(exc)) from None

    def flush(self) -> None:
        try:
            self.stream.flush()
        except OSError as exc:
            raise StdoutLost(exc.strerror or str(exc)) from None

    def __getattr__(self, name):
        return getattr(self.stream, name)


console = Console()
# Every --results-dir: a user's runs default to outputs/ (git-ignored); `results` holds the
# committed reference runs.
RESULTS_HELP = "Results folder; 'results' for the committed reference runs."
state = {"debug": False}


def csv(value: str, kind: str, valid) -> tuple[str, ...]:
    """Split a comma list and check every name (suggesting the nearest on a typo)."""
    from reftbench.registry import check_names

    names = [v.strip() for v in value.split(",") if v.strip()]
    if not names:
        raise UserError(f"no {kind} given: name at least one (comma-separated)")
    return tuple(check_names(kind, names, valid))


@app.callback()
def root(debug: bool = typer.Option(False, "--debug", help="Show tracebacks for errors.")):
    state["debug"] = debug
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    warnings.filterwarnings("ignore", message=".*gradient_checkpointing.*deprecated", category=FutureWarning)  # our rich bars replace the per-file loading bars


@app.command(cls=Command)
def data(
    families: str = typer.Option(",".join(FAMILIES), "--tasks", help="Comma-separated families."),
    small: bool = typer.Option(False, "--small", help="Small splits (300 train / 100 test scenes)."),
    seed: int = typer.Option(0, help="Data seed."),
    list_: bool = typer.Option(False, "--list", help="List the task families and exit."),
):
    """Generate (or reuse) the train, in-domain and out-of-domain splits.

    Example: reftbench data --tasks math --small
    """
    from reftbench.config import SEEDS
    from reftbench.data.generated import DEFAULT_SIZES, SMALL_SIZES, ensure_split

    if SEEDS.problem(seed):  # the range every other command's seed has
        raise UserError(f"'seed' {SEEDS.problem(seed)}, got {seed}")
    if list_:
        from tasks import FAMILIES

        for name in benchmark_families():
            family = FAMILIES[name]
            console.print(f"[bold]{name:15}[/bold] {family.open_metric:14} {family.generator}",
                          highlight=False, soft_wrap=True)
        return
    sizes = SMALL_SIZES if small else DEFAULT_SIZES
    for family in csv(families, "task family", benchmark_families()):
        for split, n in sizes.items():
            with console.status(f"{family}/{split}: {n} scenes"):
                folder = ensure_split(family, split, n, seed)
            console.print(f"{family}/{split}: {n} scenes x 3 tiers in {folder}", markup=False)


@app.command("eval", cls=Command)
def eval_cmd(
    model: str = typer.Option("base", help="base (the trained embedded model), a random "
                              "preset (random-micro, random-tiny, random-small), a checkpoint "
                              "folder or a hub id."),
    tasks: str = typer.Option(",".join(FAMILIES), help="Comma-separated families, or 'none' "
                              "(with --lmms-tasks: the benchmarks alone)."),
    splits: str = typer.Option(",".join(TEST_SPLITS), help="id (in-domain), ood (out-of-domain)."),
    tiers: str = typer.Option("open", help="Comma-separated tiers: judge, choice, open."),
    limit: int = typer.Option(None, help="At most N samples per family x split x tier."),
    batch_size: int = typer.Option(32, "--batch-size", help="Prompts per generate call."),
    max_new_tokens: int = typer.Option(64, "--max-new-tokens", help="Longest completion in "
                                       "tokens (a real model's think-then-answer needs ~256)."),
    device: str = typer.Option("auto", help="auto (CUDA when present), cpu, cuda or cuda:N."),
    dtype: str = typer.Option("auto", help="auto (the checkpoint's), float32, bfloat16, float16."),
    n_test: int = typer.Option(None, "--n-test", help="Scenes per test split (default 1000)."),
    label: str = typer.Option("", help="Leaderboard row name (default: the model)."),
    run_id: str = typer.Option("", "--run-id", help="Run folder name under <results-dir>/runs."),
    resume: bool = typer.Option(False, help="Continue an unfinished run without redoing samples."),
    results_dir: Path = typer.Option(RESULTS, "--results-dir", help=RESULTS_HELP),
    seed: int = typer.Option(0, help="Data seed."),
    data: Path = typer.Option(None, "--data", help="Real-data folder (Curr-ReFT JSONL or a "
                              "datasets folder; README 'Real data'): its id/ood rows."),
    strict: bool = typer.Option(False, help="With --data: stop at the first malformed row."),
    image_root: Path = typer.Option(None, "--image-root", help="With --data in the Curr-ReFT "
                                    "release layout: the folder its images are under."),
    max_pixels: int = typer.Option(None, "--max-pixels", help="Resize larger images to this "
                                   "many pixels (Qwen2-VL family; default: the checkpoint's)."),
    min_pixels: int = typer.Option(None, "--min-pixels", help="Resize smaller images up to "
                                   "this many pixels (default: the checkpoint's)."),
    lmms_tasks: str = typer.Option("", "--lmms-tasks", help="Comma-separated lmms-eval tasks "
                                   "(ai2d, mathvista_testmini, ...); scores go to the same results."),
    samples: int = typer.Option(0, "--samples", help="Also draw K samples per question at "
                                "temperature 1: sampled accuracy and pass@K beside greedy."),
    box_metric: str = typer.Option("box_iou", "--box-metric", help="Detection's metric: box_iou "
                                   "(strict: the answer is one box) or box_iou_reference (the "
                                   "Curr-ReFT reference's reading: any list of four numbers)."),
):
    """Evaluate a model on every family, in-domain and out-of-domain, strictly scored.

    Example: reftbench eval --model base --limit 50
    """
    from reftbench.evaluation.evaluate import EvalConfig, select_samples
    from reftbench.reports.terminal import run_eval

    lmms = tuple(dict.fromkeys(t.strip() for t in lmms_tasks.split(",") if t.strip()))
    families = eval_families(tasks, lmms)
    cfg = EvalConfig(model=model, label=label, families=families,
                     splits=csv(splits, "split", TEST_SPLITS), tiers=csv(tiers, "tier", TIERS),
                     limit=limit, batch_size=batch_size, max_new_tokens=max_new_tokens,
                     device=device, dtype=dtype, n_test=n_test, run_id=run_id, seed=seed,
                     data=str(data or ""), strict=strict, lmms_tasks=lmms,
                     image_root=str(image_root or ""), max_pixels=max_pixels,
                     min_pixels=min_pixels, samples=samples, box_metric=box_metric)
    if cfg.data:  # read (and cache) the folder now, so a bad row fails before the model loads
        select_samples(cfg)
    manager = None
    if lmms:  # names and datasets are checked before the model loads
        from reftbench.lmms.run import check_lmms_tasks

        manager = check_lmms_tasks(lmms)
    run_eval(cfg, results_dir, resume, console, lmms_manager=manager)


def eval_families(tasks: str, lmms: tuple[str, ...]) -> tuple[str, ...]:
    """`--tasks`: the families to evaluate; "none" (only beside --lmms-tasks) for none."""
    if tasks.strip().lower() != "none":
        return csv(tasks, "task family", benchmark_families())
    if not lmms:
        raise UserError("--tasks none evaluates nothing by itself; add --lmms-tasks "
                        "(e.g. ai2d,mathvista_testmini) or name the families")
    return ()


@app.command(cls=Command)
def leaderboard(
    results_dir: Path = typer.Option(RESULTS, "--results-dir", help=RESULTS_HELP),
    against: str = typer.Option(None, "--against", show_default=False, help="The row every "
                                "other row is compared with (differences with 95% intervals). "
                                "Default: the fixed schedule in a comparison of schedules, else "
                                "the base row (base@DIR for a --data comparison)."),
    mixed_protocols: bool = typer.Option(
        False, "--mixed-protocols",
        help="Also show rows evaluated under another protocol than the base row (another "
             "length, image size, dtype or data): they are left out by default."),
):
    """Print a results folder's leaderboard, each row's difference from the base with its 95%
    interval, and the paper's claims; write LEADERBOARD.md and leaderboard.png.

    Example: reftbench leaderboard --results-dir results
    """
    from reftbench.reports.leaderboard import collect
    from reftbench.reports.terminal import show_leaderboard

    if against is not None and against not in (labels := collect(results_dir, mixed_protocols)):
        raise UserError(f"--against {against}: no such row in {results_dir / 'runs'}; rows: "
                        f"{', '.join(labels) or 'none'}")
    show_leaderboard(results_dir, console, against, mixed_protocols)


@app.command(cls=Command)
def chance(
    limit: int = typer.Option(500, help="Questions per family x split (as `eval --limit`)."),
    draws: int = typer.Option(20, help="Random gold answers drawn per split."),
    n_test: int = typer.Option(None, "--n-test", help="Scenes per test split (default 1000)."),
    seed: int = typer.Option(0, help="Data seed (and the draws' seed)."),
    results_dir: Path = typer.Option(RESULTS, "--results-dir", help=RESULTS_HELP),
):
    """Image-blind chance levels (random gold answer, best constant answer) as leaderboard rows.

    Example: reftbench chance --limit 500
    """
    from rich.table import Table

    from reftbench.evaluation.chance import chance_levels, write_runs

    if limit < 1 or draws < 1:
        raise UserError("--limit and --draws must be at least 1")
    if n_test is not None and n_test < 1:
        raise UserError(f"--n-test must be at least 1, got {n_test}")
    levels = [chance_levels(family, split, limit, draws, seed, n_test)
              for family in FAMILIES for split in TEST_SPLITS]
    write_runs(levels, results_dir, limit, draws, seed)
    table = Table(title="open-tier chance levels (strict accuracy, %)")
    for name in ("family", "split", "n", "random answer", "best constant", "that answer"):
        table.add_column(name)
    for c in levels:
        table.add_row(c["family"], c["split"], str(c["n"]), f"{100 * c['random']:.1f}",
                      f"{100 * c['constant']:.1f}", c["answer"])
    console.print(table)
    console.print(f"wrote the two chance rows to {results_dir / 'runs'}", markup=False)


@app.command(cls=Command, context_settings=EXTRA_ARGS)
def train(
    ctx: typer.Context,
    trainer: str = typer.Argument(None, help="Trainer name, e.g. curr-reft (see --list).",
                                  metavar="TRAINER"),
    list_: bool = typer.Option(False, "--list", help="List the trainers and exit."),
    preset: str = typer.Option("tiny", help="Config preset: tiny (CPU) or qwen2.5-vl-3b."),
    config: Path = typer.Option(None, help="YAML file of config overrides."),
    output: Path = typer.Option(None, help="Run folder (default outputs/<trainer>-seed<seed>)."),
    resume: bool = typer.Option(False, help="Continue a killed run; finished stages are kept."),
    no_eval: bool = typer.Option(False, "--no-eval", help="Skip the final evaluation."),
    results_dir: Path = typer.Option(RESULTS, "--results-dir", help=RESULTS_HELP),
):
    """Train with a trainer plugin. Extra `--key value` pairs override config fields.

    Example: reftbench train grpo --grpo_steps 20 --seed 1
    """
    from reftbench import registry

    if list_ or not trainer:
        for name, description in registry.trainer_descriptions().items():
            console.print(f"[bold]{name:10}[/bold] {escape(description)}", highlight=False,
                          soft_wrap=True)
        return
    from reftbench.training.run import train as run_train

    overrides = list(ctx.args) + (["--evaluate", "false"] if no_eval else [])
    out = run_train(trainer, preset, config, overrides, output, resume, results_dir, console)
    from reftbench.distributed import is_main

    if is_main():
        console.print(f"model: {out['model']}\ncurves: {out['run_dir']}/reward_curve.png",
                      markup=False)


@app.command(cls=Command, context_settings=EXTRA_ARGS)
def base(
    ctx: typer.Context,
    preset: str = typer.Option("tiny", help="Base-model preset."),
    fresh: bool = typer.Option(False, help="Start over instead of resuming an interrupted build."),
    output: Path = typer.Option(None, help="Install folder (default: the local model cache)."),
):
    """Build the embedded base model (random-tiny trained on the general mixture).

    Every field of reftbench.base_build.recipe.BaseConfig is also an option (--name value).

    Example: reftbench base --fresh --output /tmp/mybase --sft_steps 700
    """
    from reftbench.base_build.recipe import BASE_PRESETS, BaseConfig, build_base
    from reftbench.config import resolve
    from reftbench.reports.terminal import progress_bar

    cfg = resolve(BaseConfig, BASE_PRESETS, preset, overrides=list(ctx.args))
    with progress_bar(console) as bar:
        out = build_base(cfg, progress=bar, resume=not fresh, target=output)
    console.print(f"base model: {out}", markup=False)


@app.command(cls=Command, context_settings=EXTRA_ARGS)
def demo(
    ctx: typer.Context,
    trainer: str = typer.Option("curr-reft", help="Trainer to run after the base evaluation."),
    output: Path = typer.Option(DEMO_RUNS, help="Training run folder."),
    results_dir: Path = typer.Option(DEMO_RESULTS, "--results-dir",
                                     help="Results folder (apart from your other runs)."),
):
    """The main job on the embedded default: base eval, train curr-reft, leaderboard.

    Example: reftbench demo --trainer grpo
    """
    from reftbench.demo import run_demo

    run_demo(console, results_dir, output, trainer, list(ctx.args))


@app.command(cls=Command, context_settings=EXTRA_ARGS)
def compare(
    ctx: typer.Context,
    trainers: str = typer.Option(",".join(METHODS), help="Trainers to compare; NAME:SCHEDULE "
                                 "runs one under a schedule (curr-rl:bandit, curr-rl:plateau, "
                                 "curr-rl:fixed+skip)."),
    seeds: str = typer.Option("0,1,2", help="Comma-separated training seeds."),
    preset: str = typer.Option("tiny", help="Trainer preset for every method."),
    eval_limit: int = typer.Option(500, "--eval-limit", help="Samples per family x split."),
    general: int = typer.Option(500, help="Held-out general-mixture samples per model."),
    output: Path = typer.Option(COMPARE_RUNS, help="Folder of the training runs."),
    results_dir: Path = typer.Option(RESULTS, "--results-dir", help=RESULTS_HELP),
    allow_dirty: bool = typer.Option(False, "--allow-dirty", help="Write into the committed "
                                     "results/ from a checkout with uncommitted code changes."),
    jobs: int = typer.Option(1, help="Runs trained at once, each in its own process with its "
                             "share of the CPU threads (one GPU each where there are GPUs); "
                             "logs go to <output>/<run>.log."),
    plan: float = typer.Option(None, "--plan", metavar="EFFECT", help="Run nothing: from the "
                               "runs in --results-dir (a finished comparison or a pilot), print "
                               "the seeds or questions per cell a difference of EFFECT points "
                               "needs."),
):
    """The paper's comparison: every trainer x seed from one base, then the leaderboard.

    Example: reftbench compare --trainers sft,curr-reft --seeds 0
    """
    from reftbench import registry
    from reftbench.compare import CompareConfig, compare as run_compare, split_variant

    if plan is not None:
        from reftbench.reports.terminal import show_plan

        show_plan(results_dir, plan, console)
        return
    specs = [t.strip() for t in trainers.split(",") if t.strip()]
    csv(",".join(spec.partition(":")[0] for spec in specs), "trainer", registry.trainers())
    names = tuple(dict.fromkeys(specs))
    for spec in names:
        split_variant(spec)  # an unknown schedule stops here, before any work
    try:
        seed_list = tuple(dict.fromkeys(int(s) for s in seeds.split(",") if s.strip()))
    except ValueError:
        raise UserError(f"--seeds expects comma-separated integers, got {seeds!r}") from None
    if not seed_list:
        raise UserError("--seeds names no seed: give comma-separated integers, e.g. 0,1,2")
    cfg = CompareConfig(trainers=names, seeds=seed_list, preset=preset, eval_limit=eval_limit,
                        general=general, overrides=tuple(ctx.args), allow_dirty=allow_dirty,
                        jobs=jobs)
    run_compare(cfg, output, results_dir, console)


# Exit status and message of a run stopped by Ctrl-C (SIGINT) or by `kill` (SIGTERM): the shell
# convention 128 + signal number, and the one thing to do next.
INTERRUPTED = "interrupted; rerun with --resume to continue"
SIGINT_STATUS, SIGTERM_STATUS = 130, 143
# Exit status when standard output cannot be written (a closed pipe, `> /dev/full`).
STDOUT_STATUS = 1


class Terminated(BaseException):
    """SIGTERM, raised in the main thread so that `finally` blocks and atomic writes unwind."""


def _on_sigterm(signum, frame):
    raise Terminated


def main() -> None:
    """Console entry point: run the app, turning UserError into one line and exit 2."""
    import signal

    previous = signal.signal(signal.SIGTERM, _on_sigterm)
    stdout, sys.stdout = sys.stdout, Stdout(sys.stdout)
    try:
        code = _run()
    finally:
        signal.signal(signal.SIGTERM, previous)
        sys.stdout = stdout
    if code:
        sys.exit(code)


def _run() -> int:
    """The app's exit status; every way out but a crash under --debug ends here."""
    try:
        # With standalone_mode=False typer *returns* an Exit's code (130 after Ctrl-C).
        code = app(standalone_mode=False)
    except UserError as exc:
        if state["debug"]:
            raise
        # One line whatever the terminal width (soft_wrap), and the message is not markup:
        # a path or an answer like "[1, 2]" must print as written.
        Console(stderr=True, soft_wrap=True).print(f"[red]error:[/red] {escape(str(exc))}",
                                                    highlight=False)
        return 2
    except (typer.Abort, KeyboardInterrupt):
        code = SIGINT_STATUS
    except Terminated:
        code = SIGTERM_STATUS
    except typer.Exit as exc:
        return exc.exit_code
    except typer.TyperException as exc:
        # Usage errors (an unknown option, a missing value) print usage and one error line.
        # typer vendors click, so these are not click's own exception classes.
        exc.show()
        return exc.exit_code
    except StdoutLost as exc:
        return _stdout_lost(exc)
    if code in (SIGINT_STATUS, SIGTERM_STATUS):
        Console(stderr=True).print(INTERRUPTED, highlight=False)
    try:
        sys.stdout.flush()  # what is still buffered fails here, not at the interpreter's exit
    except StdoutLost as exc:
        return _stdout_lost(exc)
    return code if isinstance(code, int) else 0


def _stdout_lost(exc: StdoutLost) -> int:
    """One line on stderr for a standard output that cannot be written; STDOUT_STATUS."""
    import os

    with contextlib.suppress(OSError, ValueError, AttributeError, io.UnsupportedOperation):
        # Later writes (Python's own flush at exit) go nowhere instead of failing again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    Console(stderr=True, soft_wrap=True).print(
        f"error: standard output cannot be written ({exc}); stopped there, and what was done "
        "before is kept (files written, runs resumable with --resume)", highlight=False,
        markup=False)
    return STDOUT_STATUS


if __name__ == "__main__":
    main()
