"""The committed leaderboards are what `reftbench leaderboard` writes from the committed runs.

A number edited by hand in results/**/LEADERBOARD.md, or a run added or removed without
regenerating the table, fails here.
"""

import shutil
from pathlib import Path

import pytest

from reftbench.reports.leaderboard import build

ROOT = Path(__file__).resolve().parents[1]
# Folders a `reftbench compare` wrote (results/demo, which `make demo` writes and git ignores,
# has no compare.json).
FOLDERS = sorted(p.parent for p in (ROOT / "results").rglob("compare.json"))


def numbers(text: str) -> list[str]:
    """The table rows and the claim lines: everything in the file that carries a figure."""
    return [line for line in text.splitlines()
            if line.startswith("|") or line[:2] in ("1.", "2.", "3.", "4.")
            or line.startswith("Goal")]


@pytest.mark.parametrize("folder", FOLDERS, ids=lambda p: str(p.relative_to(ROOT)))
def test_committed_leaderboard_matches_its_runs(folder, tmp_path):
    copy = tmp_path / "results"
    shutil.copytree(folder / "runs", copy / "runs")
    shutil.copy(folder / "compare.json", copy / "compare.json")
    build(copy)
    committed = numbers((folder / "LEADERBOARD.md").read_text())
    assert committed and numbers((copy / "LEADERBOARD.md").read_text()) == committed


def test_both_committed_folders_are_checked():
    assert {p.relative_to(ROOT).as_posix() for p in FOLDERS} >= {
        "results", "results/ablations/strict-reward"}
