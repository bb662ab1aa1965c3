"""What the bench/ scripts share: the run header, markdown tables, phase timers, results/PERF.md.

    from bench.common import Phases, report
    phases = Phases()
    phases.wrap(SomeClass, "method", "generation")   # accumulate wall time of every call
    report("GRPO step", ["run", "s/step"], rows, notes=["..."], append=not args.no_append)

Every table goes out with the machine, the commit, the library versions and the exact command,
so a figure in results/PERF.md can always be traced to what produced it.
"""

from __future__ import annotations

import functools
import os
import shlex
import sys
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PERF = ROOT / "results" / "PERF.md"


def cpu_name() -> str:
    """The CPU model from /proc/cpuinfo, or the platform's processor string."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    import platform

    return platform.processor() or "unknown CPU"


def header(title: str) -> str:
    """Markdown heading plus machine, commit, versions and the command line."""
    import torch

    from reftbench import provenance

    info = provenance.describe()
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no GPU"
    versions = ", ".join(f"{k} {v}" for k, v in info["versions"].items() if v != "absent")
    command = "python " + " ".join(shlex.quote(a) for a in [os.path.relpath(sys.argv[0], ROOT),
                                                             *sys.argv[1:]])
    threads = torch.get_num_threads()
    return (f"## {title} ({info['date']})\n\n"
            f"- machine: {info['machine']}, {cpu_name()}, {gpu}; torch threads {threads}\n"
            f"- commit: {info['git_commit']}\n- versions: {versions}\n"
            f"- command: `{command}`\n")


def table(columns: list[str], rows: list[list]) -> str:
    """A markdown table; floats get 3 significant digits."""
    def cell(value) -> str:
        if isinstance(value, float):
            return f"{value:.3g}" if abs(value) < 1000 else f"{value:.0f}"
        return str(value)

    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def report(title: str, columns: list[str], rows: list[list], notes=(), append: bool = True) -> str:
    """Print the table, header and notes; append them to results/PERF.md unless told not to."""
    text = header(title) + "\n" + table(columns, rows) + "\n"
    if notes:
        text += "\n" + "\n".join(f"- {n}" for n in notes) + "\n"
    print("\n" + text, flush=True)
    if append:
        PERF.parent.mkdir(parents=True, exist_ok=True)
        with open(PERF, "a") as fh:
            fh.write("\n" + text)
        print(f"appended to {PERF.relative_to(ROOT)}")
    return text


class Phases:
    """Accumulated wall time per named phase, fed by wrapped methods or `with phases(name)`."""

    def __init__(self):
        self.seconds: dict[str, float] = defaultdict(float)
        self.calls: dict[str, int] = defaultdict(int)
        self._undo: list = []

    def __call__(self, name: str):
        phases = self

        class _Timed:
            def __enter__(self):
                self.start = time.perf_counter()

            def __exit__(self, *exc):
                phases.seconds[name] += time.perf_counter() - self.start
                phases.calls[name] += 1

        return _Timed()

    def wrap(self, owner, attr: str, name: str) -> None:
        """Time every call of `owner.attr` (a class or module attribute) under `name`."""
        original = getattr(owner, attr)

        @functools.wraps(original)
        def timed(*args, **kwargs):
            with self(name):
                return original(*args, **kwargs)

        setattr(owner, attr, timed)
        self._undo.append((owner, attr, original))

    def unwrap(self) -> None:
        """Restore every wrapped attribute."""
        for owner, attr, original in reversed(self._undo):
            setattr(owner, attr, original)
        self._undo.clear()

    def take(self) -> dict[str, float]:
        """The accumulated seconds so far, then start again from zero."""
        out = dict(self.seconds)
        self.seconds.clear()
        self.calls.clear()
        return out
