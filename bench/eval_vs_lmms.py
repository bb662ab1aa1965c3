"""Evaluation speed: `reftbench eval` against lmms-eval on the same tasks, model and samples.

    python bench/eval_vs_lmms.py [--model random-tiny] [--limit 100] [--scenes 1000] [--batch-size 32]
                                 [--lmms-batch-sizes 32,1] [--profile] [--no-append]
                                 [--families detection,classification,math]

In one process, after one untimed warm-up of each: reftbench's evaluator (`evaluate` with its
`TransformersBackend`) and lmms-eval (`simple_evaluate`, the lmms-eval CLI's defaults) running
the reftbench tasks `reftbench_<family>_<split>` through the `reftbench` model class, each on the
first `limit` open-tier samples of every family x split, with the same model; lmms-eval once per
batch size asked for (default: reftbench's). The script checks that every sample's completion
and scores are identical (exit status 1 if not), then prints samples/s and the ratios.

Phases, each a timer around the named function: model load; set-up (reftbench: selecting the
samples; lmms-eval: its task index, `TaskManager`, and building the tasks, `get_task_dict`);
model generate (`TransformersBackend.generate`: templating, image processing, `model.generate`,
decoding); request prep (lmms-eval only: the rest of `generate_until`, e.g. each doc's image read
by `doc_to_visual`); scoring (`reftbench.scoring.rewards.score`); the rest of the run (writing logs,
metrics, aggregation; for lmms-eval also `lm.clean()`). samples/s counts everything but the
model load. `--profile` also prints cProfile's top functions of the lmms-eval run.
"""

import argparse
import cProfile
import json
import os
import pstats
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import Phases, output_options, report  # noqa: E402
from reftbench.model.names import resolve_model  # noqa: E402

COLUMNS = ["harness", "samples", "load s", "set-up s", "model generate s", "request prep s",
           "scoring s", "rest s", "total s (no load)", "samples/s"]


def run_reftbench(model: str, families, limit: int, scenes: int, batch: int, out: Path):
    """(phase seconds, {(family, split): [rows in order]})."""
    import reftbench.evaluation.evaluate as ev
    import reftbench.scoring.rewards
    from reftbench.generation.backends import TransformersBackend

    phases = Phases()
    cfg = ev.EvalConfig(model=model, families=families, limit=limit, n_test=scenes,
                        batch_size=batch, run_id=out.name)
    with phases("load"):
        backend = ev.make_backend(cfg)
    phases.wrap(TransformersBackend, "generate", "generate")
    phases.wrap(ev, "select_samples", "set-up")
    phases.wrap(ev, "score", "scoring")
    phases.wrap(reftbench.scoring.rewards, "score", "scoring")
    try:
        with phases("total"):
            ev.evaluate(cfg, out.parent, backend=backend)
    finally:
        phases.unwrap()
    grouped = {}
    for line in open(out.parent / "runs" / out.name / "samples.jsonl"):
        row = json.loads(line)
        grouped.setdefault((row["family"], row["split"]), []).append(row)
    return dict(phases.seconds), grouped


def run_lmms(model: str, families, limit: int, batch: int, profile: bool):
    """(phase seconds, {(family, split): [logged samples by doc_id]})."""
    import lmms_eval.evaluator as lev
    from lmms_eval.api.model import lmms

    import reftbench.scoring.rewards
    from reftbench.generation.backends import TransformersBackend
    from reftbench.lmms.model import ReftbenchLMM
    from reftbench.lmms.run import cli_defaults, task_manager

    phases = Phases()
    tasks = [f"reftbench_{f}_{s}" for f in families for s in ("id", "ood")]
    profiler = cProfile.Profile() if profile else None
    with phases("index"):
        manager = task_manager()
    with phases("load"):
        lm = ReftbenchLMM(pretrained=model, batch_size=batch)
    phases.wrap(ReftbenchLMM, "generate_until", "generate_until")
    phases.wrap(TransformersBackend, "generate", "generate")
    phases.wrap(lev, "get_task_dict", "build")
    phases.wrap(lmms, "clean", "clean")
    phases.wrap(reftbench.scoring.rewards, "score", "scoring")
    try:
        if profiler:
            profiler.enable()
        with phases("total"):
            results = lev.simple_evaluate(model=lm, tasks=tasks, limit=limit, task_manager=manager,
                                          log_samples=True, cli_args=cli_defaults(),
                                          verbosity="WARNING")
    finally:
        if profiler:
            profiler.disable()
        phases.unwrap()
    if profiler:
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(25)
    seconds = dict(phases.seconds)
    seconds["set-up"] = seconds["index"] + seconds.get("build", 0.0)
    seconds["total"] += seconds["index"]  # the task index is built before simple_evaluate starts
    grouped = {}
    for task, logged in results["samples"].items():
        family, split = task.split("_")[1:]
        grouped[(family, split)] = sorted(logged, key=lambda r: r["doc_id"])
    return seconds, grouped


def differences(ours: dict, theirs: dict) -> list[str]:
    """Samples whose completion or scores differ between the harnesses (empty: identical)."""
    found = []
    for key, rows in ours.items():
        logged = theirs.get(key, [])
        if len(logged) != len(rows):
            found.append(f"{key}: {len(rows)} samples vs {len(logged)}")
            continue
        for mine, other in zip(rows, logged):
            text = other["filtered_resps"]
            text = text[0] if isinstance(text, list) else text
            if text != mine["completion"] or other.get("target") != mine["gold"]:
                found.append(f"{mine['id']}: completion or target differs")
            found += [f"{mine['id']}: {k} {mine.get(k)} vs {other.get(k)}"
                      for k in ("format", "accuracy", "reward", "iou")
                      if mine.get(k) != other.get(k)]
    return found


def row(name: str, n: int, s: dict) -> list:
    prep = s.get("generate_until", s["generate"]) - s["generate"]
    rest = s["total"] - s["set-up"] - s.get("generate_until", s["generate"]) - s.get("scoring", 0)
    return [name, n, s["load"], s["set-up"], s["generate"], prep if "generate_until" in s else "-",
            s.get("scoring", 0.0), rest, s["total"], n / s["total"]]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="random-tiny", help="preset, 'base' or a checkpoint folder")
    parser.add_argument("--limit", type=int, default=100, help="samples per family x split")
    parser.add_argument("--scenes", type=int, default=1000, help="scenes per test split")
    parser.add_argument("--batch-size", type=int, default=32, help="reftbench eval's default")
    parser.add_argument("--lmms-batch-sizes", default="",
                        help="comma-separated lmms-eval batch sizes, one row each (default: the "
                             "same as reftbench; lmms-eval's CLI default is 1)")
    parser.add_argument("--families", default="detection,classification,math")
    parser.add_argument("--profile", action="store_true", help="cProfile the lmms-eval run")
    output_options(parser)
    args = parser.parse_args()
    # lmms-eval's reftbench tasks read these (tasks/lmms_utils.py): the same split, open tier.
    os.environ.update(REFTBENCH_LMMS_SCENES=str(args.scenes), REFTBENCH_LMMS_TIERS="open")
    families = tuple(args.families.split(","))
    lmms_batches = [int(b) for b in args.lmms_batch_sizes.split(",") if b] or [args.batch_size]
    model = resolve_model(args.model)

    from reftbench.data.generated import ensure_split

    for family in families:  # generated once, before any timing
        for split in ("id", "ood"):
            ensure_split(family, split, args.scenes)
    with tempfile.TemporaryDirectory() as tmp:
        # Warm-up, untimed: first calls into torch, the datasets cache of lmms-eval's tasks.
        run_reftbench(model, families[:1], 1, args.scenes, args.batch_size, Path(tmp) / "warm")
        run_lmms(model, families[:1], 1, lmms_batches[0], profile=False)
        ours, our_rows = run_reftbench(model, families, args.limit, args.scenes, args.batch_size,
                                       Path(tmp) / "timed")
        n = sum(len(r) for r in our_rows.values())
        rows = [row(f"reftbench eval (batch {args.batch_size})", n, ours)]
        notes = [f"model {args.model}; {args.limit} open-tier samples per family x split of "
                 f"{args.scenes}-scene test splits; greedy, 64 new tokens at most"]
        all_same = True
        for batch in lmms_batches:
            theirs, their_rows = run_lmms(model, families, args.limit, batch, args.profile)
            diffs = differences(our_rows, their_rows)
            all_same = all_same and not diffs
            rows.append(row(f"lmms-eval, reftbench model (batch {batch})",
                            sum(len(r) for r in their_rows.values()), theirs))
            with_load = (theirs["total"] + theirs["load"]) / (ours["total"] + ours["load"])
            notes += [f"reftbench / lmms-eval (batch {batch}) samples/s: "
                      f"{rows[0][-1] / rows[-1][-1]:.2f}x ({with_load:.2f}x with model loads); "
                      "per-sample completions and scores identical: " +
                      ("yes" if not diffs else f"NO, {len(diffs)} differences, e.g. {diffs[:3]}"),
                      f"lmms-eval (batch {batch}) set-up: task index (TaskManager over every "
                      f"lmms-eval YAML) {theirs['index']:.2f} s, building the tasks (get_task_dict:"
                      f" datasets, process_docs) {theirs.get('build', 0.0):.2f} s; its rest "
                      f"includes lm.clean() (gc.collect) {theirs.get('clean', 0.0):.2f} s"]
    summary = (f"reftbench eval {rows[0][-1]:.1f} samples/s against lmms-eval's {rows[1][-1]:.1f} "
               f"({rows[0][-1] / rows[1][-1]:.2f}x), batch {lmms_batches[0]}, model {args.model}; "
               f"identical scores: {'yes' if all_same else 'NO'}")
    report("Evaluation: reftbench eval vs lmms-eval (same model class)", COLUMNS, rows, notes,
           summary=summary, append=not args.no_append)
    if not all_same:
        sys.exit(1)

if __name__ == "__main__":
    main()
