"""`reftbench demo`: the README's main job on the embedded default, end to end.

1. generate the task splits (cached), 2. evaluate the embedded base model (once),
3. train Curr-ReFT from it (`reftbench train curr-reft` on a third of the `tiny` preset's steps,
   so the whole demo ends within 10 minutes on a 2-core CPU; resumed if interrupted),
4. print the leaderboard (base vs Curr-ReFT, in-domain and out-of-domain), and greedy accuracy
beside sampled accuracy and pass@K for both (`--samples`): whether training sharpened the
model's samples into its greedy answer or narrowed them.
Rerunning it reuses everything already finished with the same base model and budget: runs are
kept under a folder named by the base model's fingerprint and the demo's budget, so a rebuilt
base or a changed budget starts afresh instead of showing runs made under the old one.
"""

from __future__ import annotations

from pathlib import Path

from reftbench.errors import UserError
from reftbench.paths import DEMO_RESULTS, DEMO_RUNS
from reftbench.samples import FAMILIES, SPLITS

# Questions per family x split in the demo's evaluations (the comparison uses 500), and the
# sampled completions per question behind its pass@K column.
DEMO_LIMIT = 100
DEMO_SAMPLES = 4
# The demo's trainer takes the preset's step counts divided by this (curr-reft: stages 12/12/25
# instead of 37/37/75; its rejection-sampling SFT keeps its 20 steps). `reftbench train` and
# `reftbench compare` run the full preset. Half the steps made a fresh-clone `make demo` take
# 10 min 56 s on a slow 2-core day (install 2 min 37 s, training 6 min 2 s).
DEMO_STEP_DIVISOR = 3
# Where a trainer's budget lives: the first of these its config has.
STEP_FIELDS = ("stage_steps", "grpo_steps", "sft_steps")


def demo_budget(trainer: str, preset: str = "tiny") -> list[str]:
    """Command-line overrides giving `trainer` its `preset` step counts divided by
    DEMO_STEP_DIVISOR (at least 1 step each), e.g. ["--stage_steps", "12,12,25"]."""
    from reftbench.registry import load_trainer

    values = load_trainer(trainer).presets.get(preset, {})
    name = next((name for name in STEP_FIELDS if name in values), None)
    if name is None:
        raise UserError(f"trainer {trainer}'s {preset} preset sets none of "
                        f"{', '.join(STEP_FIELDS)}, so the demo cannot shorten it; run "
                        f"`reftbench train {trainer}` instead")
    steps = values[name] if isinstance(values[name], tuple) else (values[name],)
    return [f"--{name}", ",".join(str(max(1, n // DEMO_STEP_DIVISOR)) for n in steps)]


def run_demo(console, results_dir: Path = DEMO_RESULTS,
             output: Path = DEMO_RUNS,
             trainer: str = "curr-reft", overrides: list[str] | None = None) -> None:
    """Data, base evaluation, training with evaluation, leaderboard."""
    from reftbench.compare import base_eval_config
    from reftbench.config import merge_overrides
    from reftbench.data.generated import ensure_split
    from reftbench.provenance import model_fingerprint
    from reftbench.reports.terminal import run_eval, show_leaderboard
    from reftbench.training.run import prepare, train

    budget = demo_budget(trainer)
    evaluation = ["--eval_limit", str(DEMO_LIMIT), "--eval_samples", str(DEMO_SAMPLES)]
    settings = merge_overrides(budget, evaluation, overrides or [])
    # The base is scored under the protocol the trained model will be.
    base_cfg = base_eval_config(trainer, "tiny", settings, run_id="demo-base")
    base = base_cfg.model
    # Named by the base and by the demo's own budget: a demo of another base or another
    # budget starts afresh beside the old one instead of resuming or mixing with it.
    tag = f"base-{model_fingerprint(base)}"
    budget_tag = f"{DEMO_LIMIT}q-steps1of{DEMO_STEP_DIVISOR}"
    results_dir, output = (Path(folder) / tag / budget_tag for folder in (results_dir, output))
    resume = (output / trainer / "stages").exists()
    # Every option is checked before any work: the data take minutes, the base evaluation more.
    prepare(trainer, "tiny", None, settings, output / trainer, resume, results_dir)
    for family in FAMILIES:
        for split in SPLITS:
            with console.status(f"generating {family}/{split}"):
                ensure_split(family, split)
    console.print(f"base model {base} ({tag}): results in {results_dir}, training in {output}",
                  markup=False)
    base_run = results_dir / "runs" / "demo-base"
    if not (base_run / "results.json").exists():
        console.rule("evaluating the embedded base model")
        run_eval(base_cfg, results_dir, (base_run / "samples.jsonl").exists(), console)
    console.rule(f"reftbench train {trainer}")
    console.print(f"on 1/{DEMO_STEP_DIVISOR} of the tiny preset's steps: {' '.join(budget)}")
    train(trainer, overrides=settings, output=output / trainer, resume=resume,
          results_dir=results_dir, console=console)
    console.rule("leaderboard")
    show_leaderboard(results_dir, console)
