"""The leaderboard: every results.json under <results folder>/runs, one row per label.

Columns are each family's in-domain and out-of-domain accuracy at the open tier, then the
in-domain and out-of-domain averages, and (where scored) "general": accuracy on the held-out
general mixture, the base model's own skills. Several runs with one label (seeds) are shown as mean
and standard deviation over runs, using the newest run per (label, seed). Written as a rich
table, `LEADERBOARD.md` and `leaderboard.png` beside runs/ (in-domain vs out-of-domain). The
folder is a user's own (outputs/results) or the committed reference runs (results/).
"""

from __future__ import annotations

import json
import logging
import statistics
from pathlib import Path

from reftbench import fileio
from reftbench.samples import FAMILIES, TEST_SPLITS

log = logging.getLogger(__name__)

TIER = "open"
# The held-out general-mixture metric (the base model's own skills), when a run scored it.
GENERAL = "general/id/open"


def collect(results_dir: Path) -> dict[str, list[dict]]:
    """label -> newest results.json per seed, read from results_dir/runs/*/. A file that is
    not a results file as the evaluator writes it (cut short, edited by hand: a metric that is
    text, a label that is a list, an accuracy of 1.7) is skipped with one warning."""
    newest: dict[tuple[str, object], dict] = {}
    for path in sorted((Path(results_dir) / "runs").glob("*/results.json")):
        try:
            res = json.loads(path.read_text())
        except (OSError, UnicodeDecodeError, ValueError, RecursionError):
            # The evaluator writes atomically, so this was cut or edited by something else.
            log.warning("%s: skipped: not readable JSON (cut short or edited?)", path)
            continue
        why = problem(res)
        if why:
            log.warning("%s: skipped: %s", path, why)
            continue
        res.setdefault("label", path.parent.name)
        key = (res["label"], (res.get("config") or {}).get("extra", {}).get("seed"))
        if key not in newest or _date(res) >= _date(newest[key]):
            newest[key] = res
    grouped: dict[str, list[dict]] = {}
    for (label, _), res in sorted(newest.items(), key=lambda kv: str(kv[0])):
        grouped.setdefault(label, []).append(res)
    return grouped


# Fields of a family/split/tier metrics entry that are shares of the questions (0 to 1).
SHARES = ("strict", "accuracy", "format", "sampled", "pass_k")
# Fields that are counts.
COUNTS = ("n", "samples")


def problem(res) -> str | None:
    """Why `res` is not a results file the leaderboard can read, or None."""
    if not isinstance(res, dict) or not isinstance(res.get("metrics"), dict):
        return "not a results file (no metrics)"
    for field, kinds, what in (("label", str, "text"), ("config", dict, "a mapping"),
                               ("provenance", dict, "a mapping")):
        if res.get(field) is not None and not isinstance(res[field], kinds):
            return f"{field} is {_shown(res[field])}, not {what}"
    config = res.get("config") or {}
    for field, kinds, what in (("extra", dict, "a mapping"), ("made_by", str, "text")):
        if config.get(field) is not None and not isinstance(config[field], kinds):
            return f"config {field} is {_shown(config[field])}, not {what}"
    for key, entry in res["metrics"].items():
        if not isinstance(entry, dict):
            return f"metric {key} is {_shown(entry)}, not a mapping"
        if len(str(key).split("/")) != 3:  # another benchmark's (lmms-eval): not read here
            continue
        for field in SHARES + COUNTS:
            value = entry.get(field)
            if value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                return f"{key} {field} is {_shown(value)}, not a number"
            if field in COUNTS and (not isinstance(value, int) or value < 0):
                return f"{key} {field} is {_shown(value)}, not a count"
            if field in SHARES and not 0 <= value <= 1:  # nan fails both comparisons
                return f"{key} {field} is {_shown(value)}, outside 0 to 1"
    return None


def _shown(value) -> str:
    """A value for a warning line, cut short."""
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _date(res: dict) -> str:
    """The run's ISO date ('' when missing, so such a run counts as oldest)."""
    return str((res.get("provenance") or {}).get("date", ""))


def columns() -> list[tuple[str, str]]:
    """(family, split) pairs in display order."""
    return [(f, s) for f in FAMILIES for s in TEST_SPLITS]


def strict(metric: dict | None, field: str = "strict") -> float | None:
    """A metrics entry's reported accuracy: "strict" (exact label sets, reftbench.scoring.rewards),
    or "accuracy" in a results file written before strict scores existed; or another field."""
    if not metric:
        return None
    if field == "strict" and "strict" not in metric:
        field = "accuracy"
    return metric.get(field)


def row_values(runs: list[dict], field: str = "strict") -> dict[str, tuple[float, float, int] | None]:
    """Column -> (mean, std, number of runs) of open-tier strict accuracy (or `field`:
    "sampled", "pass_k"), plus the id/ood averages.

    A run counts towards a split's average only when it has every family on that split.
    """
    values: dict[str, tuple[float, float, int] | None] = {}
    per_run_avgs: dict[str, list[list[float]]] = {s: [[] for _ in runs] for s in TEST_SPLITS}
    for family, split in columns():
        accs = []
        for i, res in enumerate(runs):
            value = strict(res["metrics"].get(f"{family}/{split}/{TIER}"), field)
            if value is not None:
                accs.append(value)
                per_run_avgs[split][i].append(value)
        values[f"{family}/{split}"] = _mean_std(accs)
    for split in TEST_SPLITS:
        full = [sum(v) / len(v) for v in per_run_avgs[split] if len(v) == len(FAMILIES)]
        values[f"avg/{split}"] = _mean_std(full)
    general = [v for res in runs if (v := strict(res["metrics"].get(GENERAL), field)) is not None]
    values["general"] = _mean_std(general)
    return values


def _mean_std(xs: list[float]) -> tuple[float, float, int] | None:
    if not xs:
        return None
    return statistics.fmean(xs), (statistics.stdev(xs) if len(xs) > 1 else 0.0), len(xs)


def fmt(cell: tuple[float, float, int] | None) -> str:
    """Percent with one decimal; '± std' when the cell averages several runs."""
    if cell is None:
        return "-"
    mean, std, n = cell
    return f"{100 * mean:.1f} ± {100 * std:.1f}" if n > 1 else f"{100 * mean:.1f}"


def table_rows(grouped: dict[str, list[dict]]) -> tuple[list[str], list[list[str]]]:
    """Header and rows, shared by the terminal table and the Markdown file."""
    keys = [f"{f}/{s}" for f, s in columns()] + [f"avg/{s}" for s in TEST_SPLITS]
    if any(GENERAL in res["metrics"] for runs in grouped.values() for res in runs):
        keys.append("general")
    header = ["model", "runs"] + keys
    rows = []
    for label, runs in grouped.items():
        vals = row_values(runs)
        rows.append([label, str(len(runs))] + [fmt(vals[k]) for k in keys])
    return header, rows


def sampling_rows(grouped: dict[str, list[dict]]) -> tuple[list[str], list[list[str]]]:
    """Greedy, sampled and pass@K averages for the rows evaluated with `--samples K`: whether
    a model has headroom for RL to sharpen (pass@K far above greedy), and whether training
    sharpened it (greedy up) or narrowed it (pass@K down)."""
    header = ["model", "K"] + [f"{kind}/{split}" for split in TEST_SPLITS
                               for kind in ("greedy", "sampled", "pass@K")]
    rows = []
    for label, runs in grouped.items():
        ks = {m["samples"] for res in runs for m in res["metrics"].values()
              if isinstance(m, dict) and m.get("samples")}
        if not ks:
            continue
        cells = {field: row_values(runs, field) for field in ("strict", "sampled", "pass_k")}
        rows.append([label, "/".join(map(str, sorted(ks)))]
                    + [fmt(cells[field][f"avg/{split}"]) for split in TEST_SPLITS
                       for field in ("strict", "sampled", "pass_k")])
    return header, rows


def markdown(header: list[str], rows: list[list[str]]) -> str:
    """A GitHub Markdown table (a `|` in a cell is escaped, a line break becomes a space, so a
    label cannot shift the columns)."""
    def cells(row):
        return "| " + " | ".join(" ".join(c.replace("|", "\\|").split()) for c in row) + " |"

    lines = [cells(header), "|" + "---|" * len(header)]
    lines += [cells(r) for r in rows]
    return "\n".join(lines) + "\n"


def plot(grouped: dict[str, list[dict]], path: Path) -> None:
    """Scatter of in-domain against out-of-domain average accuracy, one point per label."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 5))
    for label, runs in grouped.items():
        vals = row_values(runs)
        if vals["avg/id"] is None or vals["avg/ood"] is None:
            continue
        (x, xe, _), (y, ye, _) = vals["avg/id"], vals["avg/ood"]
        ax.errorbar(100 * x, 100 * y, xerr=100 * xe, yerr=100 * ye, fmt="o", capsize=3)
        ax.annotate(label, (100 * x, 100 * y), textcoords="offset points", xytext=(5, 5))
    ax.set_xlabel("in-domain accuracy, open tier (%)")
    ax.set_ylabel("out-of-domain accuracy, open tier (%)")
    ax.set_title("reftbench: in-domain vs out-of-domain")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp.png")
    fig.savefig(tmp, dpi=120)
    plt.close(fig)
    tmp.replace(path)


def _sampling(grouped: dict[str, list[dict]]) -> str:
    """The greedy / sampled / pass@K table, when some row was evaluated with --samples."""
    header, rows = sampling_rows(grouped)
    if not rows:
        return ""
    return ("\n## Greedy, sampled and pass@K (average of the three families, %)\n\n"
            "K completions per question at temperature 1: `sampled` is their mean strict "
            "accuracy, `pass@K` the share of questions with at least one right.\n\n"
            + markdown(header, rows))


def _findings(grouped: dict[str, list[dict]]) -> str:
    """The paper's claims checked on these numbers, when every method has a row."""
    from reftbench.reports.findings import claims

    lines = claims({label: row_values(runs) for label, runs in grouped.items()})
    return ("\n## The paper's claims at this scale\n\n" + "\n".join(lines) + "\n") if lines else ""


def _run_note(results_dir: Path, grouped: dict[str, list[dict]]) -> str:
    """How the comparison was produced (written by `reftbench compare`), if it was.

    Rows of trainers the command did not run (runs copied in from another comparison) are
    named, so a reader does not take them for this command's output.
    """
    path = results_dir / "compare.json"
    if not path.exists():
        return ""
    try:
        return _note(json.loads(path.read_text()), grouped)
    except (OSError, UnicodeDecodeError, ValueError, RecursionError, LookupError, TypeError,
            AttributeError):
        log.warning("%s: not read: not the record `reftbench compare` writes (edited?); the "
                    "leaderboard is written without its note", path)
        return ""


def _note(run: dict, grouped: dict[str, list[dict]]) -> str:
    """The note's text from compare.json's record."""
    timings = ", ".join(f"{k} {v:.0f} s" for k, v in run.get("timings", {}).items())
    ran = set(run.get("config", {}).get("trainers", [])) | {"base"}
    others = [label for label, runs in grouped.items() if label not in ran and not _made_by(runs)]
    outside = (f"Rows not made by this command (each run's own command and commit are in its "
               f"results.json): {', '.join(others)}  \n" if others else "")
    return (f"\n## How these numbers were made\n\nCommand: `{run['command']}`  \n"
            f"Commit when recorded: {run['provenance']['git_commit']} (each run's own commit is in "
            f"its results.json)  \n{outside}Machine: {run['provenance']['machine']}"
            f", torch {run['provenance']['versions']['torch']}  \nWall time per run: {timings}  \n"
            f"Total: {run.get('total_seconds', 0) / 60:.0f} min\n")


def _made_by(runs: list[dict]) -> str | None:
    """The script that wrote a row's runs (`made_by` in their results.json), or None."""
    return (runs[0].get("config") or {}).get("made_by")


def _made_elsewhere(grouped: dict[str, list[dict]]) -> str:
    """Which rows a script wrote rather than the evaluator (their results.json says `made_by`)."""
    found = {label: _made_by(runs) for label, runs in grouped.items()}
    rows = [f"{label} (`{by}`)" for label, by in found.items() if by]
    return ("\nRows written by a script, not by evaluating a model: " + ", ".join(rows) + ".\n"
            if rows else "")


def build(results_dir: Path, grouped: dict[str, list[dict]] | None = None
          ) -> tuple[list[str], list[list[str]]]:
    """Collect runs (or take `grouped`, collect's result), write LEADERBOARD.md and
    leaderboard.png, return the table.

    With no runs nothing is written (an existing leaderboard is kept) and `rows` is empty.
    """
    results_dir = Path(results_dir)
    grouped = collect(results_dir) if grouped is None else grouped
    header, rows = table_rows(grouped)
    if not rows:
        return header, rows
    fileio.ensure_writable_dir(results_dir)
    body = ("# reftbench leaderboard\n\nOpen-tier strict accuracy (%) per family on the in-domain "
            "(id) and out-of-domain (ood) test splits (classification: the exact label set); "
            "mean ± std over runs where a row has several.\n"
            f"Written by `reftbench leaderboard` from {results_dir.as_posix()}/runs/*/"
            "results.json.\n\n")
    fileio.write_atomic(results_dir / "LEADERBOARD.md",
                        body + markdown(header, rows) + _made_elsewhere(grouped)
                        + _sampling(grouped) + _findings(grouped) + _run_note(results_dir, grouped))
    plot(grouped, results_dir / "leaderboard.png")
    return header, rows
