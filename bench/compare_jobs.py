"""Time `reftbench compare --jobs N` against the sequential comparison, with farm-bench.

    python bench/compare_jobs.py [--jobs 2] [--runs 3] [--trainer grpo] [--steps 12]

Both sides train the same runs (one trainer, two seeds, a short budget) from the same base and
score them the same way; the base's evaluation is done once beforehand and copied into each
timed run's results folder, so the figures are training plus each run's own evaluation.
farm-bench starts the two commands in turn (A B A B ...) from an empty run folder each time and
prints min / median / max of the wall time and the pair-by-pair ratio A/B; this script files its
medians in results/PERF.md. Sequential: one process with torch's default threads (all the
CPUs). Parallel: N processes with an equal share of them each (`OMP_NUM_THREADS`).
"""

from __future__ import annotations

import argparse
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import output_options, report  # noqa: E402

REFTBENCH = str(Path(sys.executable).with_name("reftbench"))


def compare_command(work: Path, name: str, jobs: int, options: list[str]) -> str:
    """A shell command: a fresh copy of the base's results, then the comparison."""
    run = work / name
    compare = [REFTBENCH, "compare", "--jobs", str(jobs), "--output", str(run / "out"),
               "--results-dir", str(run / "res"), *options]
    return (f"rm -rf {run} && mkdir -p {run} && cp -r {work / 'template'} {run / 'res'} && "
            f"exec {shlex.join(compare)}")


def figure(output: str, label: str) -> tuple[float, float, float]:
    """(min, median, max) of a farm-bench line such as "A wall s  1.0  2.0  3.0"."""
    match = re.search(rf"^{re.escape(label)}\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)", output, re.M)
    if match is None:
        raise SystemExit(f"farm-bench printed no '{label}' line:\n{output}")
    return tuple(float(v) for v in match.groups())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=2, help="runs at once on the parallel side")
    parser.add_argument("--runs", type=int, default=3, help="timed pairs")
    parser.add_argument("--trainer", default="grpo")
    parser.add_argument("--steps", type=int, default=12, help="GRPO steps per run")
    parser.add_argument("--eval-limit", type=int, default=20)
    output_options(parser)
    args = parser.parse_args()
    seeds = ",".join(str(s) for s in range(args.jobs))

    def options_for(seed_list: str, steps: int) -> list[str]:
        return ["--trainers", args.trainer, "--seeds", seed_list, "--eval-limit",
                str(args.eval_limit), "--general", "0", "--grpo_steps", str(steps)]

    options = options_for(seeds, args.steps)
    work = Path(tempfile.mkdtemp(prefix="compare_jobs_"))
    try:
        # The base's evaluation (and the task data) once, outside the timed runs.
        subprocess.run([REFTBENCH, "compare", *options_for("0", 1), "--output",
                        str(work / "warm-out"), "--results-dir", str(work / "warm")],
                       check=True, stdout=subprocess.DEVNULL)
        (work / "template" / "runs").mkdir(parents=True)
        shutil.copytree(work / "warm" / "runs" / "compare-base",
                        work / "template" / "runs" / "compare-base")
        parallel = compare_command(work, "a", args.jobs, options)
        sequential = compare_command(work, "b", 1, options)
        done = subprocess.run(
            ["farm-bench", "-n", str(args.runs), "--warmup", "0", "--timeout", "3600",
             "--vs", f"sh -c {shlex.quote(sequential)}", "--", "sh", "-c", parallel],
            capture_output=True, text=True)
        print(done.stdout, done.stderr)
        if done.returncode or "exit 0" not in done.stdout:
            raise SystemExit("farm-bench or a comparison failed (above)")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    a, b = figure(done.stdout, "A wall s"), figure(done.stdout, "B wall s")
    ratio = figure(done.stdout, "A/B wall")
    rows = [[f"compare --jobs {args.jobs}", *a], ["compare (sequential)", *b],
            ["ratio (pair by pair)", *ratio]]
    report(f"compare --jobs {args.jobs} against the sequential comparison",
           ["side", "min", "median", "max"], rows,
           summary=f"compare --jobs {args.jobs}: {a[1]:.0f} s against {b[1]:.0f} s "
                   f"sequential ({ratio[1]:.2f}x the wall time, median of {args.runs} pairs)",
           notes=[f"each side trains {args.trainer} for seeds {seeds}, {args.steps} steps, "
                  f"and evaluates each run on {args.eval_limit} questions per cell (base "
                  "evaluated once beforehand); wall seconds from farm-bench, A and B in turn",
                  farm_bench_line(done.stdout)],
           append=not args.no_append)


def farm_bench_line(output: str) -> str:
    """farm-bench's first line (its version, the machine and the pinning)."""
    return "farm-bench: " + output.splitlines()[0].strip() if output else "farm-bench: no output"


if __name__ == "__main__":
    main()
