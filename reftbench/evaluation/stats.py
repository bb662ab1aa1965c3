"""Aggregate per-sample scores into per-(family, split, tier) metrics with standard errors."""

from __future__ import annotations

import math
from collections import defaultdict

# Per-sample fields that are averaged into metrics: "strict" is the reported accuracy
# (reftbench.scoring.rewards); iou exists for box samples only, "sampled" and "pass_k" (pass@K over K
# sampled completions) for evaluations run with --samples K.
METRIC_FIELDS = ("accuracy", "strict", "format", "reward", "iou", "sampled", "pass_k")


def mean_and_stderr(values: list[float]) -> tuple[float, float]:
    """Mean and standard error of the mean (sample std / sqrt(n)); stderr 0 for n < 2."""
    n = len(values)
    if n == 0:
        return float("nan"), float("nan")
    mean = sum(values) / n
    if n < 2:
        return mean, 0.0
    var = sum((v - mean) ** 2 for v in values) / (n - 1)
    return mean, math.sqrt(var / n)


def aggregate(rows: list[dict]) -> dict:
    """{"family/split/tier": {"n", "accuracy", "accuracy_stderr", "format", "reward", ...}}."""
    groups: dict[str, list[dict]] = defaultdict(list)
    for row in rows:
        groups[f"{row['family']}/{row['split']}/{row['tier']}"].append(row)
    out = {}
    for key in sorted(groups):
        members = groups[key]
        entry = {"n": len(members)}
        ks = {r["samples"] for r in members if r.get("samples")}
        if ks:
            entry["samples"] = max(ks)
        for field in METRIC_FIELDS:
            values = [r[field] for r in members if r.get(field) is not None]
            if values:
                entry[field], entry[f"{field}_stderr"] = mean_and_stderr(values)
        # Answers the scorer cut off at its time limit (reftbench.scoring.math_worker): scored 0, counted.
        timed_out = sum(1 for r in members if r.get("timed_out"))
        if timed_out:
            entry["timed_out"] = timed_out
        out[key] = entry
    return out
