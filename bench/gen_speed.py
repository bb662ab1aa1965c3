"""Time the generation of every default split (3 families x train/id/ood) into a temp folder.

    python bench/gen_speed.py [--seed 0] [--scale 1.0]

Prints seconds per benchmark family and split, and the total (one process, as
`reftbench.data.generated.ensure_split` runs it). The default sizes are reftbench's
(3,000 train, 1,000 id, 1,000 ood scenes per family; three records per scene).
"""

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from reftbench.data.generated import DEFAULT_SIZES  # noqa: E402
from reftbench.samples import FAMILIES  # noqa: E402
from tasks.common import write_split  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--scale", type=float, default=1.0, help="multiply every split size")
    args = parser.parse_args()
    total = 0.0
    with tempfile.TemporaryDirectory() as tmp:
        for family in FAMILIES:
            times = {}
            for split, n in DEFAULT_SIZES.items():
                n = max(1, round(n * args.scale))
                start = time.perf_counter()
                write_split(family, split, n, args.seed, Path(tmp) / family / split)
                times[split] = time.perf_counter() - start
            total += sum(times.values())
            detail = "  ".join(f"{s} {t:5.1f}s" for s, t in times.items())
            print(f"{family:15s} {sum(times.values()):6.1f}s   ({detail})", flush=True)
    print(f"{'total':15s} {total:6.1f}s")


if __name__ == "__main__":
    main()
