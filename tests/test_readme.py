"""The README is short, starts with the two commands, and every reftbench command it (and docs/)
shows names a real command and real options; the cheap ones run as written."""

from __future__ import annotations

import dataclasses
import re
import shlex
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def commands(path: Path) -> list[str]:
    """Every `reftbench ...` line of a bash block (continuations joined, comments dropped)."""
    found = []
    for block in re.findall(r"```bash\n(.*?)```", path.read_text(), re.S):
        text = block.replace("\\\n", " ")
        for line in text.splitlines():
            line = line.split(" #")[0].strip()
            if line.startswith("reftbench "):
                found.append(line)
    return found


def known_options(words: list[str]) -> set[str]:
    """The options a `reftbench <command>` accepts (train, compare, demo and base: also the
    config fields they pass on)."""
    import typer.main

    from reftbench.cli import app

    group = typer.main.get_command(app)
    command = group.commands.get(words[0])
    assert command is not None, f"reftbench {words[0]}: no such command"
    names = {opt for p in command.params for opt in getattr(p, "opts", [])}
    names |= {opt for p in command.params for opt in getattr(p, "secondary_opts", [])}
    if words[0] == "train" and len(words) > 1 and not words[1].startswith("-"):
        from reftbench.registry import load_trainer

        names |= {f"--{f.name}" for f in dataclasses.fields(load_trainer(words[1]).config_cls)}
    if words[0] in ("compare", "demo"):  # the rest go to every compared trainer's config
        from reftbench.registry import load_trainer
        from reftbench.compare import METHODS

        for name in METHODS:
            names |= {f"--{f.name}" for f in dataclasses.fields(load_trainer(name).config_cls)}
    if words[0] == "base":
        from reftbench.base_build.recipe import BaseConfig

        names |= {f"--{f.name}" for f in dataclasses.fields(BaseConfig)}
    return names | {"--help"}


def test_readme_is_short_and_starts_with_the_two_commands():
    lines = (ROOT / "README.md").read_text().splitlines()
    assert len(lines) < 130
    first = "\n".join(lines[:25])
    assert "make demo" in first and "make test" in first


def test_the_readme_quotes_the_committed_leaderboard_word_for_word():
    """The results table's rows and every claim and goal line of README's "What you get" are
    lines of results/LEADERBOARD.md (README wraps a long line; Markdown reads it as one)."""
    readme = (ROOT / "README.md").read_text()
    board = (ROOT / "results" / "LEADERBOARD.md").read_text()
    section = readme.split("## What you get", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| ")]
    assert len(rows) >= 6 and all(row in board.splitlines() for row in rows)
    starts = r"^(?:\d\. |Goal \()"
    chunks = re.split(r"\n(?=\d\. |Goal \()|\n\n", section)
    quoted = [" ".join(c.split()) for c in chunks if re.match(starts, c)]
    assert len(quoted) == 6
    lines = {" ".join(line.split()) for line in board.splitlines()}
    assert all(p in lines for p in quoted), [p for p in quoted if p not in lines]


def test_the_readme_s_schedule_figures_are_the_committed_ablation_s():
    """Each "<effect> ... CI <low> to <high>" of README's Schedules paragraph is the out-of-domain
    difference from fixed in results/ablations/schedules/LEADERBOARD.md."""
    readme = " ".join((ROOT / "README.md").read_text().split())
    paragraph = readme.split("**Schedules**", 1)[1].split("## ", 1)[0]
    board = (ROOT / "results" / "ablations" / "schedules" / "LEADERBOARD.md").read_text()
    diff = board.split("## Difference from curr-rl", 1)[1]
    column = [c.strip() for c in diff.split("| model |", 1)[1].split("\n")[0].split("|")]
    at = column.index("avg ood") + 2  # a row splits as "", label, cells...
    cells = {line.split("|")[1].strip(): line.split("|")[at].strip()
             for line in diff.splitlines() if line.startswith("| curr-rl:")}
    quoted = re.findall(r"(plateau|bandit)\b.*?([+-]\d+\.\d) (?:points, 95% CI|out of domain "
                        r"\(CI) ([+-]\d+\.\d) to ([+-]\d+\.\d)", paragraph)
    assert [q[0] for q in quoted] == ["plateau", "bandit"]
    for schedule, effect, low, high in quoted:
        assert cells[f"curr-rl:{schedule}"].startswith(f"{effect} [{low}, {high}]"), schedule


@pytest.mark.parametrize("path", DOCS, ids=lambda p: p.name)
def test_every_shown_command_and_option_exists(path):
    for line in commands(path):
        words = shlex.split(re.sub(r"\[.*?\]", "", line))[1:]
        allowed = known_options(words)
        used = [w.split("=")[0] for w in words if w.startswith("--")]
        unknown = [w for w in used if w not in allowed]
        assert not unknown, f"{path.name}: `{line}` uses {unknown}"


@pytest.mark.parametrize("line", ["reftbench train --list",
                                  "reftbench leaderboard --results-dir results"])
def test_the_cheap_readme_commands_run_as_written(cli, line, tmp_path, monkeypatch):
    import shutil

    assert line in "\n".join(commands(ROOT / "README.md")) or line.split(" --")[0] in \
        "\n".join(commands(ROOT / "README.md"))
    # The leaderboard rewrites its files: run it on a copy of the committed results.
    shutil.copytree(ROOT / "results", tmp_path / "results")
    monkeypatch.chdir(tmp_path)
    code, out, err = cli(*shlex.split(line)[1:])
    assert code == 0, err
    assert out.strip()


# What the README and docs/ cite as evidence, and the indexes that lead to it.
CITING = [*DOCS, ROOT / "results" / "PERF.md", ROOT / "results" / "notebook" / "README.md",
          ROOT / "experiments" / "README.md"]


# A path into the checkout written in the text: results/..., bench/... or experiments/...
CITED_PATH = re.compile(r"(?<![\w/.-])((?:results|bench|experiments)/[\w./*-]*[\w*]/?)")


def cited_files(path: Path) -> list[tuple[str, Path]]:
    """(as written, resolved path) for every local Markdown link of `path` and every
    `results/`, `bench/` or `experiments/` path in its text (relative to the checkout)."""
    text = path.read_text()
    found = []
    for target in re.findall(r"\]\(([^)\s]+)\)", text):
        if not re.match(r"[a-z]+:", target) and not target.startswith("#"):
            found.append((target, path.parent / target.split("#")[0]))
    for target in re.findall(CITED_PATH, text):
        found.append((target, ROOT / target))
    return found


@pytest.mark.parametrize("path", CITING, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_cited_file_exists(path):
    missing = [written for written, target in cited_files(path)
               if not (any(target.parent.glob(target.name)) if "*" in target.name
                       else target.exists())]
    assert not missing, f"{path.relative_to(ROOT)} cites files that do not exist: {missing}"


def test_the_citation_check_sees_links_and_paths(tmp_path):
    doc = tmp_path / "doc.md"
    doc.write_text("See [the table](../results/PERF.md#at-a-glance) and results/notebook/x.md, "
                   "[a site](https://example.com), `python bench/rollout.py`.\n")
    written = [w for w, _ in cited_files(doc)]
    assert written == ["../results/PERF.md#at-a-glance", "results/notebook/x.md",
                       "bench/rollout.py"]
