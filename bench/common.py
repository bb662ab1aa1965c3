"""What bench/ and experiments/ share: the run header, markdown tables, phase timers, and where
the figures go.

    from bench.common import Phases, output_options, report
    output_options(parser)                           # --no-append (a probe: also --notebook)
    phases = Phases()
    phases.wrap(SomeClass, "method", "generation")   # accumulate wall time of every call
    report("GRPO step", ["run", "s/step"], rows, notes=["..."], summary="1.57 s/step, +2.8%",
           append=not args.no_append)

Every table goes out with the machine, the commit, the library versions and the exact command,
so a figure can always be traced to what produced it. A benchmark (bench/) replaces its own
section of results/PERF.md, so that file holds the latest figures of each benchmark and its
"At a glance" table is rebuilt from them; a probe (experiments/) adds its table to the end of
one question's file in results/notebook/ (`notebook=`), where runs accumulate in the order
they ran.
"""

from __future__ import annotations

import functools
import os
import re
import shlex
import sys
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PERF = ROOT / "results" / "PERF.md"
NOTEBOOK = ROOT / "results" / "notebook"
# A benchmark's section of PERF.md: between these two lines, KEY being the script's path (plus
# a word where one script writes two tables). The glance table sits between its own pair.
SECTION = re.compile(r"<!-- (?P<key>bench/[^>]*?) -->\n(?P<body>.*?)<!-- end (?P=key) -->\n",
                     re.S)
# Other jobs on the machine slow every figure (ratios less: both sides run back to back), so
# the header gives the load when the script started (it imports this module first) and ended.
STARTED_LOAD = os.getloadavg()[0]
GLANCE = re.compile(r"(<!-- at a glance -->\n).*?(<!-- end at a glance -->\n)", re.S)


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
            f"- machine: {info['machine']}, {cpu_name()}, {gpu}; torch threads {threads}; "
            f"load average {STARTED_LOAD:.1f} at the start, {os.getloadavg()[0]:.1f} at the "
            "end (1 min)\n"
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


def script_path() -> str:
    """The running script, relative to the checkout (bench/grpo_step.py)."""
    return os.path.relpath(sys.argv[0], ROOT)


def output_options(parser, notebook: str | None = None) -> None:
    """--no-append; for a probe also --notebook, the question file its table goes to."""
    parser.add_argument("--no-append", action="store_true",
                        help="only print; write neither results/PERF.md nor the notebook")
    if notebook:
        parser.add_argument("--notebook", default=notebook, metavar="QUESTION",
                            help="add the table to results/notebook/QUESTION.md "
                            "(default: %(default)s)")


def report(title: str, columns: list[str], rows: list[list], notes=(), append: bool = True, *,
           summary: str | None = None, notebook: str | None = None,
           section: str | None = None) -> str:
    """Print the table with its header and notes, then file it unless `append` is False.

    A benchmark replaces its section of results/PERF.md (`section`, by default the script's
    path), `summary` being its line in the "At a glance" table; a probe names `notebook`, the
    question file of results/notebook/ it adds to.
    """
    if summary:
        notes = [f"in short: {summary}", *notes]
    text = header(title) + "\n" + table(columns, rows) + "\n"
    if notes:
        text += "\n" + "\n".join(f"- {n}" for n in notes) + "\n"
    print("\n" + text, flush=True)
    if not append:
        return text
    if notebook:
        path = add_to_notebook(notebook, text)
        print(f"added to {path.relative_to(ROOT)}")
    else:
        key = section or script_path()
        replace_section(PERF, key, text)
        print(f"{key}: its section of {PERF.relative_to(ROOT)} now holds these figures")
    return text


def add_to_notebook(question: str, text: str) -> Path:
    """Append `text` to results/notebook/QUESTION.md (made, with a title, if new)."""
    from reftbench.fileio import write_atomic

    if not re.fullmatch(r"[a-z0-9][a-z0-9-]*", question):
        raise SystemExit(f"--notebook {question!r}: use lower-case words joined by '-', "
                         "the name of a file in results/notebook/ without .md")
    path = NOTEBOOK / f"{question}.md"
    if path.exists():
        before = path.read_text()
    else:
        before = (f"# {question}\n\nA new question: say what it asks here, and add it to "
                  "[the index](README.md).\n")
        print(f"new notebook file {path.relative_to(ROOT)}: add it to results/notebook/README.md")
    write_atomic(path, before.rstrip("\n") + "\n\n" + text)
    return path


def replace_section(path: Path, key: str, text: str) -> None:
    """Put `text` in `path` as the section of `key` (replacing the old one, else at the end),
    then rebuild the glance table from every section."""
    from reftbench.fileio import write_atomic

    doc = path.read_text() if path.exists() else "# Performance\n"
    block = f"<!-- {key} -->\n{text.strip()}\n<!-- end {key} -->\n"
    found = [m for m in SECTION.finditer(doc) if m.group("key") == key]
    if found:
        doc = doc[:found[0].start()] + block + doc[found[0].end():]
    else:
        doc = doc.rstrip("\n") + "\n\n" + block
    write_atomic(path, glance(doc))


def glance(doc: str) -> str:
    """`doc` with its "At a glance" table rebuilt: one row per benchmark section."""
    rows = []
    for match in SECTION.finditer(doc):
        body = match.group("body")
        title = re.search(r"^#+ (.*)$", body, re.M)
        fields = dict(re.findall(r"^- (in short|commit|command): (.*)$", body, re.M))
        date = re.search(r"\((\d{4}-\d\d-\d\d)T[^)]*\)\s*$", title.group(1)) if title else None
        commit = fields.get("commit", "-").split()[0]
        short = commit[:7] + ("-dirty" if commit.endswith("-dirty") else "")
        rows.append([f"`{match.group('key')}`", fields.get("in short", "-"),
                     fields.get("command", "-"), short, date.group(1) if date else "-"])
    if not GLANCE.search(doc):
        return doc
    lines = table(["benchmark", "in short", "command", "commit", "date"], rows)
    return GLANCE.sub(lambda m: m.group(1) + lines + "\n" + m.group(2), doc)


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
