"""The leaderboard's columns: which cells of a results file each one averages, and its heading.

    measures(general=True)   # "detection/id", ..., "math/ood", "avg/id", "avg/ood", "general"
    cells("avg/id")          # {"detection/id/open": 1/3, "classification/id/open": 1/3, ...}
    heading("classification/ood")   # "cls ood"

A column is a weighted mean of cells (family/split/tier): one cell for a family x split, each
family's cell at weight 1/F for a split's average (a run counts only with every family). The
tables (reftbench.reports.leaderboard) and the paired differences (reftbench.reports.paired)
both read it from here.
"""

from __future__ import annotations

from tasks import FAMILIES as REGISTRY

from reftbench.samples import FAMILIES, TEST_SPLITS

# The tier the leaderboard reports.
TIER = "open"
# The held-out general-mixture metric (the base model's own skills), when a run scored it.
GENERAL = "general/id/open"


def columns() -> list[tuple[str, str]]:
    """(family, split) pairs in display order."""
    return [(f, s) for f in FAMILIES for s in TEST_SPLITS]


def measures(general: bool = True) -> list[str]:
    """Every column's key, in display order."""
    keys = [f"{f}/{s}" for f, s in columns()] + [f"avg/{s}" for s in TEST_SPLITS]
    return keys + (["general"] if general else [])


def cells(measure: str) -> dict[str, float]:
    """The cells a column averages, with their weights (summing to 1)."""
    if measure == "general":
        return {GENERAL: 1.0}
    family, split = measure.split("/")
    if family == "avg":
        return {f"{f}/{split}/{TIER}": 1 / len(FAMILIES) for f in FAMILIES}
    return {f"{family}/{split}/{TIER}": 1.0}


def heading(measure: str) -> str:
    """A column's heading: short words ("det id", "avg ood", "gen")."""
    if measure == "general":
        return _short("general")
    family, split = measure.split("/")
    return f"{_short(family)} {split}"


def _short(family: str) -> str:
    entry = REGISTRY.get(family)
    return (entry.short if entry and entry.short else family)
