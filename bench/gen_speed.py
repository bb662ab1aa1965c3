"""Time the generation of every default split (3 families x train/id/ood) into a temp folder.

    python bench/gen_speed.py [--seed 0] [--scale 1.0] [--no-append]

Prints seconds per benchmark family and split, and the total, written as
`reftbench.data.generated.ensure_split` writes them (chunks of scenes in parallel, one worker per
CPU). The default sizes are reftbench's
(3,000 train, 1,000 id, 1,000 ood scenes per family; three records per scene). Replaces its
section of results/PERF.md.
"""

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import output_options, report  # noqa: E402
from reftbench.data.generated import DEFAULT_SIZES  # noqa: E402
from reftbench.samples import FAMILIES  # noqa: E402
from tasks.common import write_split  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--scale", type=float, default=1.0, help="multiply every split size")
    output_options(parser)
    args = parser.parse_args()
    sizes = {split: max(1, round(n * args.scale)) for split, n in DEFAULT_SIZES.items()}
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for family in FAMILIES:
            times = []
            for split, n in sizes.items():
                start = time.perf_counter()
                write_split(family, split, n, args.seed, Path(tmp) / family / split)
                times.append(time.perf_counter() - start)
            rows.append([family, *times, sum(times)])
            print(rows[-1], flush=True)
    total = sum(row[-1] for row in rows)
    rows.append(["total", *(sum(row[i] for row in rows) for i in range(1, len(sizes) + 1)), total])
    scenes = len(FAMILIES) * sum(sizes.values())
    report("Generating every default split", ["family", *(f"{s} s" for s in sizes), "total s"],
           rows, ["scenes per split: " + ", ".join(f"{s} {n}" for s, n in sizes.items()) +
                  f"; seed {args.seed}; {os.cpu_count()} CPUs, one worker each"],
           summary=f"{scenes:,} scenes ({len(FAMILIES)} families x {', '.join(sizes)}) in "
                   f"{total:.0f} s", append=not args.no_append)


if __name__ == "__main__":
    main()
