"""Peak resident memory of a short curr-rl training run, per model size, each in its own process.

    python bench/memory.py [--models random-tiny,smol] [--stage-steps 1] [--train-scenes 100]
                           [--test-scenes 50] [--no-append]

Each model trains as `reftbench train curr-rl --preset tiny --model M` (all three curriculum
stages, `stage-steps` steps each, no final evaluation) in a child process; its peak resident set
size is the kernel's `ru_maxrss` for that child (`os.wait4`), so nothing else in this process
counts. A first row gives the floor: a child that only imports torch, transformers and TRL.
Presets are built first, in this process. A model that cannot be had (not a preset, 'base' or
a folder; the `smol` preset without its optional install) gets a row saying why it was skipped.
"""

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import ROOT, output_options, report  # noqa: E402
from reftbench.model.names import resolve_model  # noqa: E402


def peak_of(command: list[str]) -> tuple[float, float, int]:
    """(peak RSS in MiB, wall seconds, exit status) of `command` run as a child process."""
    start = time.perf_counter()
    child = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    output = child.stdout.read()  # drain the pipe, or a chatty child blocks on a full one
    _, status, usage = os.wait4(child.pid, 0)
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode:
        print(output.decode(errors="replace")[-3000:], file=sys.stderr)
    # Linux reports ru_maxrss in KiB.
    return usage.ru_maxrss / 1024, time.perf_counter() - start, child.returncode


def available(model: str) -> str | None:
    """None if `model` can be trained here (a preset is built now, outside any measurement),
    else the one-line reason why not (e.g. the `smol` preset without its optional install)."""
    from reftbench.errors import UserError

    try:
        resolve_model(model)
    except UserError as err:
        return str(err)
    return None


def param_count(model: str) -> str:
    """Parameters of the model, in millions (loads it in this process, after the children)."""
    from reftbench.model.load import load_model

    loaded, _ = load_model(resolve_model(model))
    return f"{sum(p.numel() for p in loaded.parameters()) / 1e6:.1f}M"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="random-tiny,smol", help="comma-separated presets/folders")
    parser.add_argument("--stage-steps", type=int, default=1, help="GRPO steps per stage")
    parser.add_argument("--train-scenes", type=int, default=100, help="scenes per train split")
    parser.add_argument("--test-scenes", type=int, default=50, help="scenes per test split")
    output_options(parser)
    args = parser.parse_args()

    from reftbench.data.generated import ensure_split
    from reftbench.samples import FAMILIES

    for family in FAMILIES:  # generated here, once, so no child's figures include it
        for split, n in (("train", args.train_scenes), ("id", args.test_scenes),
                         ("ood", args.test_scenes)):
            ensure_split(family, split, n)
    floor = [sys.executable, "-c", "import torch, transformers, trl"]
    mib, seconds, status = peak_of(floor)
    rows = [["imports only (torch, transformers, trl)", "-", mib, seconds, status]]
    measured = []
    with tempfile.TemporaryDirectory() as tmp:
        for model in args.models.split(","):
            why = available(model)
            if why:
                rows.append([f"curr-rl, model {model}", "-", "-", "-", f"skipped: {why}"])
                continue
            steps = ",".join([str(args.stage_steps)] * 3)
            command = [sys.executable, "-m", "reftbench", "train", "curr-rl", "--preset", "tiny",
                       "--model", model, "--stage_steps", steps, "--n_train",
                       str(args.train_scenes), "--n_test", str(args.test_scenes), "--no-eval",
                       "--output", str(Path(tmp) / model)]
            mib, seconds, status = peak_of(command)
            rows.append([f"curr-rl, model {model}", None, mib, seconds, status])
            measured.append((rows[-1], model))
            print(rows[-1], flush=True)
    for row, model in measured:
        row[1] = param_count(model) if row[-1] == 0 else "-"
    notes = [f"curr-rl with the tiny preset's settings (4 prompts x G=8, 40 completion tokens, "
             f"float32), {args.stage_steps} GRPO steps per stage (judge, choice, open), "
             f"{args.train_scenes} train / {args.test_scenes} test scenes per family, no final "
             "evaluation; the train/test overlap check included, data generated beforehand",
             "peak RSS: ru_maxrss of the child process (os.wait4), MiB"]
    peaks = [f"{row[2]:.0f} MiB ({model})" for row, model in measured if row[-1] == 0]
    summary = (f"curr-rl peaks at {', '.join(peaks) or 'nothing measured'}; imports alone "
               f"{rows[0][2]:.0f} MiB")
    report("Peak memory of a short curr-rl run", ["run", "params", "peak RSS MiB", "wall s",
                                                 "exit"], rows, notes, summary=summary,
           append=not args.no_append)


if __name__ == "__main__":
    main()
