"""The leaderboard: every results.json under <results folder>/runs, one row per label.

Columns are each family's in-domain and out-of-domain accuracy at the open tier, then the
in-domain and out-of-domain averages, and (where scored) "general": accuracy on the held-out
general mixture, the base model's own skills (reftbench.reports.columns). Several runs with one
label (seeds) are shown as mean and standard deviation over runs, using the newest run per
(label, seed). Beside it: each row's difference from the base with a 95% interval, paired
question by question over the runs' scores.json (reftbench.reports.paired), what the comparison
can resolve, and the paper's claims decided on it (reftbench.reports.findings). Written as rich
tables (reftbench.reports.terminal), `LEADERBOARD.md` and `leaderboard.png` beside runs/. The
folder is a user's own (outputs/results) or the committed reference runs (results/).
"""

from __future__ import annotations

import itertools
import json
import logging
import statistics
from pathlib import Path

from reftbench import fileio
from reftbench.evaluation import protocol, scores
from reftbench.reports import findings
from reftbench.reports.columns import GENERAL, TIER, columns, heading, measures
from reftbench.reports.paired import Estimate, Rows
from reftbench.samples import FAMILIES, TEST_SPLITS

log = logging.getLogger(__name__)

# The row other rows are compared with, unless told otherwise (`--against`).
BASE = "base"
# The key under which collect() notes the folder a results.json was read from (never written).
FOLDER = "_folder"
MEAN_STD = "mean ± standard deviation over runs (seeds) where a row has several"


def collect(results_dir: Path, mixed_protocols: bool = False) -> dict[str, list[dict]]:
    """label -> newest results.json per seed, read from results_dir/runs/*/. A file that is
    not a results file as the evaluator writes it (cut short, edited by hand: a metric that is
    text, a label that is a list, an accuracy of 1.7) is skipped with one warning.

    Rows scored under another evaluation protocol than the base row (another length, image
    size, dtype, data, ...: reftbench/evaluation/protocol.py) are left out with a warning that
    says what differs, unless `mixed_protocols`."""
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
        res[FOLDER] = path.parent
        key = (res["label"], (res.get("config") or {}).get("extra", {}).get("seed"))
        if key not in newest or _date(res) >= _date(newest[key]):
            newest[key] = res
    grouped: dict[str, list[dict]] = {}
    for (label, _), res in sorted(newest.items(), key=lambda kv: str(kv[0])):
        grouped.setdefault(label, []).append(res)
    if mixed_protocols:
        return grouped
    kept, left = protocol.comparable(grouped, start_row(grouped))
    for label, why in left.items():
        log.warning("%s: left out of the table: %s (--mixed-protocols shows it anyway)", label, why)
    return kept


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


def keys(grouped: dict[str, list[dict]]) -> list[str]:
    """The columns shown: general only where some run scored it."""
    return measures(general=any(GENERAL in res["metrics"] for runs in grouped.values()
                                for res in runs))


def table_rows(grouped: dict[str, list[dict]]) -> tuple[list[str], list[list[str]]]:
    """Header and rows, shared by the terminal table and the Markdown file."""
    shown = keys(grouped)
    header = ["model", "runs"] + [heading(k) for k in shown]
    rows = []
    for label, runs in grouped.items():
        vals = row_values(runs)
        rows.append([label, str(len(runs))] + [fmt(vals[k]) for k in shown])
    return header, rows


def sampling_rows(grouped: dict[str, list[dict]]) -> tuple[list[str], list[list[str]]]:
    """Greedy, sampled and pass@K averages for the rows evaluated with `--samples K`: whether
    a model has headroom for RL to sharpen (pass@K far above greedy), and whether training
    sharpened it (greedy up) or narrowed it (pass@K down)."""
    header = ["model", "K"] + [f"{kind} {split}" for split in TEST_SPLITS
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


def paired_rows(grouped: dict[str, list[dict]]) -> Rows:
    """The rows for comparisons: each run's per-question scores (scores.json, rebuilt from a
    local samples.jsonl where that is all there is) and the table's means."""
    found = {}
    for label, runs in grouped.items():
        found[label] = []
        for res in runs:
            folder = res.get(FOLDER)
            cells = None if folder is None else scores.read(folder)
            if cells is None and folder is not None:
                cells = scores.rebuild(folder, res)
            found[label].append(cells)
    means = {label: {k: (v[0] if v else None) for k, v in row_values(runs).items()}
             for label, runs in grouped.items()}
    return Rows(found, means)


def start_row(labels) -> str:
    """The base row: "base", or a real-data comparison's "base@DIR" when it is the only one."""
    if BASE in labels:
        return BASE
    found = [label for label in labels if label.startswith(BASE + "@")]
    return found[0] if len(found) == 1 else BASE


def default_against(results_dir: Path, grouped) -> str:
    """The row the others are set beside when none is named: in a comparison of schedules, the
    fixed row (its compare.json names "curr-rl" beside "curr-rl:bandit"), so every schedule
    reads against fixed; otherwise the base row (start_row)."""
    try:
        record = json.loads((Path(results_dir) / "compare.json").read_text())
        trainers = [t for t in record["config"]["trainers"] if isinstance(t, str)]
    except (OSError, UnicodeDecodeError, ValueError, RecursionError, LookupError, TypeError):
        trainers = []  # no record, or one _run_note warns about
    for spec in trainers:
        name, _, variant = spec.partition(":")
        found = [label for label in grouped if label.partition("@")[0] == name]
        if variant and name in trainers and len(found) == 1:
            return found[0]
    return start_row(grouped)


def compared(grouped: dict[str, list[dict]], against: str) -> list[str]:
    """The rows set beside `against`: every label but it and rows a script wrote (chance)."""
    return [label for label, runs in grouped.items() if label != against and not _made_by(runs)]


def differences(grouped, rows: Rows, against: str = BASE) -> dict[str, dict[str, Estimate]]:
    """label -> column -> that row minus `against` (empty without an `against` row)."""
    if against not in grouped:
        return {}
    return {label: {k: findings.change(rows, label, k, against) for k in keys(grouped)}
            for label in compared(grouped, against)}


def diff_cell(est: Estimate) -> str:
    """"+4.0 [+2.1, +5.9] *" (the star: the interval excludes zero), "+4.0" without an
    interval, "-" without a value."""
    if est.effect is None:
        return "-"
    text = f"{100 * est.effect:+.1f}"
    if est.low is None:
        return text
    star = " *" if excludes_zero(est) else ""
    return f"{text} [{100 * est.low:+.1f}, {100 * est.high:+.1f}]{star}"


def excludes_zero(est: Estimate) -> bool:
    """Whether the estimate's interval lies wholly above or wholly below zero."""
    return est.low is not None and (est.low > 0 or est.high < 0)


def resolution(grouped, rows: Rows, against: str = BASE) -> str:
    """What the comparison can tell apart: the smallest difference it detects (80% power, 5%
    two-sided) against `against` and between two rows, from the measured noise; "" when it
    cannot say (no per-question scores, or fewer than one row beside `against`)."""
    labels = compared(grouped, against)
    if against not in grouped or not labels:
        return ""

    def span(ests: list[Estimate]) -> str | None:
        found = sorted(100 * e.mde() for e in ests if e.mde() is not None)
        if not found:
            return None
        low, high = found[0], found[-1]
        return f"{low:.1f}" if f"{low:.1f}" == f"{high:.1f}" else f"{low:.1f}-{high:.1f}"

    vs = {k: span([findings.change(rows, label, k, against) for label in labels])
          for k in keys(grouped)}
    if vs["avg/id"] is None:
        return ""
    pairs = list(itertools.combinations(labels, 2))
    between = {k: span([findings.change(rows, a, k, b) for a, b in pairs])
               for k in ("avg/id", "avg/ood")}
    cells = span([findings.change(rows, label, f"{f}/{s}", against)
                  for label in labels for f, s in columns()])
    runs = sorted({len(grouped[label]) for label in labels})
    questions = sorted({e.questions for label in labels
                        for e in [findings.change(rows, label, "avg/id", against)] if e.questions})
    runs_text = "1 run" if runs == [1] else f"{'/'.join(map(str, runs))} runs"
    text = (f"With {'/'.join(map(str, questions))} questions per cell and {runs_text} per row "
            f"({against}: {len(grouped[against])}), the "
            f"smallest difference this comparison detects with 80% power at the 5% level "
            f"(two-sided) is, against {against}: {vs['avg/id']} points on the in-domain average, "
            f"{vs['avg/ood']} out of domain")
    text += f", {vs['general']} on general" if vs.get("general") else ""
    text += f" and {cells} in a single family and split" if cells else ""
    if pairs and between["avg/id"]:
        text += (f"; between two rows, {between['avg/id']} in domain and {between['avg/ood']} "
                 f"out of domain")
    return text + ". A smaller true difference mostly comes out undecided."


def plot(grouped: dict[str, list[dict]], rows: Rows, path: Path, against: str = BASE) -> None:
    """Each row's difference from `against` with its 95% interval (or, without per-question
    scores, ± the std over runs), one panel per average; rows on the y axis, one label each."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    diffs = differences(grouped, rows, against)
    panels = [k for k in keys(grouped) if k in PANELS]
    labels = list(diffs) or [label for label in grouped if not _made_by(grouped[label])]
    fig, axes = plt.subplots(1, len(panels), figsize=(3.4 * len(panels) + 1.2,
                                                        1.3 + 0.45 * max(len(labels), 2)),
                             sharex=True, sharey=True, squeeze=False)
    any_interval = False
    for ax, key in zip(axes[0], panels):
        for y, label in enumerate(labels):
            x, low, high, filled = _bar(grouped, diffs, label, key)
            if x is None:
                continue
            any_interval = any_interval or (label in diffs and diffs[label][key].low is not None)
            ax.errorbar(x, y, xerr=[[x - low], [high - x]], fmt="o", capsize=4, color="C0",
                        markerfacecolor="C0" if filled else "white")
        if diffs:
            ax.axvline(0, color="grey", lw=1, ls="--")
        ref = row_values(grouped[against])[key] if diffs else None
        ax.set_title(PANELS[key] + (f" ({against} {100 * ref[0]:.1f}%)" if ref else ""),
                     fontsize=10)
        ax.grid(axis="x", alpha=0.3)
        ax.set_xlabel(f"points vs {against}" if diffs else "accuracy (%)")
    axes[0][0].set_yticks(range(len(labels)), labels)
    axes[0][0].set_ylim(-0.6, len(labels) - 0.4)
    axes[0][0].invert_yaxis()
    if diffs and any_interval:
        title = (f"difference from {against}, 95% interval over questions and seeds "
                 f"(filled: excludes 0)")
    elif diffs:
        title = f"difference from {against}, ± std over runs (no per-question scores)"
    else:
        title = "accuracy, ± std over runs"
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp.png")
    fig.savefig(tmp, dpi=120)
    plt.close(fig)
    tmp.replace(path)


# The plot's panels: the two averages and general.
PANELS = {"avg/id": "in domain", "avg/ood": "out of domain", "general": "general"}


def _bar(grouped, diffs, label, key) -> tuple:
    """(value, low, high, filled) in points for one row and column, or Nones."""
    cell = row_values(grouped[label])[key]
    if not diffs:
        if cell is None:
            return None, None, None, False
        mean, std, _ = cell
        return 100 * mean, 100 * (mean - std), 100 * (mean + std), True
    est = diffs[label][key]
    if est.effect is None:
        return None, None, None, False
    x = 100 * est.effect
    if est.low is not None:
        return x, 100 * est.low, 100 * est.high, excludes_zero(est)
    std = 100 * cell[1] if cell else 0.0
    return x, x - std, x + std, False


def markdown(header: list[str], rows: list[list[str]]) -> str:
    """A GitHub Markdown table (a `|` in a cell is escaped, a line break becomes a space, so a
    label cannot shift the columns)."""
    def cells(row):
        return "| " + " | ".join(" ".join(c.replace("|", "\\|").split()) for c in row) + " |"

    lines = [cells(header), "|" + "---|" * len(header)]
    lines += [cells(r) for r in rows]
    return "\n".join(lines) + "\n"


def _sampling(grouped: dict[str, list[dict]]) -> str:
    """The greedy / sampled / pass@K table, when some row was evaluated with --samples."""
    header, rows = sampling_rows(grouped)
    if not rows:
        return ""
    return ("\n## Greedy, sampled and pass@K (average of the three families, %)\n\n"
            "K completions per question at temperature 1: `sampled` is their mean strict "
            "accuracy, `pass@K` the share of questions with at least one right; "
            f"{MEAN_STD}.\n\n" + markdown(header, rows))


def _differences(grouped, rows: Rows, against: str) -> str:
    """The difference-from-`against` table and what the comparison can resolve."""
    diffs = differences(grouped, rows, against)
    if not diffs:
        return ""
    shown = keys(grouped)
    table = [[label] + [diff_cell(diffs[label][k]) for k in shown] for label in diffs]
    with_interval = any(e.low is not None for d in diffs.values() for e in d.values())
    caption = (f"Each row minus {against}, in points, with its 95% interval over questions and "
               f"seeds, paired question by question (docs/statistics.md); * marks an interval "
               f"that excludes 0." if with_interval else
               f"Each row's mean minus {against}'s, in points. No intervals: "
               f"{_missing(diffs)}.")
    text = (f"\n## Difference from {against}\n\n{caption}\n\n"
            + markdown(["model"] + [heading(k) for k in shown], table))
    note = resolution(grouped, rows, against)
    return text + (f"\n### What this comparison can resolve\n\n{note}\n" if note else "")


def _missing(diffs) -> str:
    why = sorted({e.missing for d in diffs.values() for e in d.values() if e.missing})
    text = "; ".join(why) or "none"
    if "no per-question scores" in why:
        text += (" (runs evaluated before scores.json was written, with no samples.jsonl "
                 "here to rebuild it from)")
    return text


def _findings(rows: Rows) -> str:
    """The paper's claims decided on these runs, when every method has a row."""
    lines = findings.claims(rows)
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
    ran = set(run.get("config", {}).get("trainers", [])) | {BASE}
    others = [label for label, runs in grouped.items() if label not in ran and not _made_by(runs)]
    outside = (f"Rows not made by this command (each run's own command and commit are in its "
               f"results.json): {', '.join(others)}  \n" if others else "")
    prov = run["provenance"]
    tree = {True: ", with uncommitted code changes", False: ", a clean tree"}
    return (f"\n## How these numbers were made\n\nCommand: `{run['command']}`  \n"
            f"Commit when recorded: {prov['git_commit']}{tree.get(prov.get('dirty'), '')} "
            f"(each run's own commit is in its results.json)  \n{outside}Machine: "
            f"{prov['machine']}, torch {prov['versions']['torch']}  \nWall time per run: "
            f"{timings}  \nTotal: {run.get('total_seconds', 0) / 60:.0f} min\n")


def _made_by(runs: list[dict]) -> str | None:
    """The script that wrote a row's runs (`made_by` in their results.json), or None."""
    return (runs[0].get("config") or {}).get("made_by")


def _made_elsewhere(grouped: dict[str, list[dict]]) -> str:
    """Which rows a script wrote rather than the evaluator (their results.json says `made_by`)."""
    found = {label: _made_by(runs) for label, runs in grouped.items()}
    rows = [f"{label} (`{by}`)" for label, by in found.items() if by]
    return ("\nRows written by a script, not by evaluating a model: " + ", ".join(rows) + ".\n"
            if rows else "")


def _legend(shown: list[str]) -> str:
    """What the short headings stand for."""
    words = {heading(k).split()[0]: k.split("/")[0] for k in shown}
    named = [f"{short} = {full}" for short, full in words.items() if short != full]
    return ", ".join(named)


def build(results_dir: Path, against: str | None = None, mixed_protocols: bool = False,
          grouped: dict[str, list[dict]] | None = None) -> tuple[list[str], list[list[str]]]:
    """Collect runs (or take `grouped`, collect's result), write LEADERBOARD.md and
    leaderboard.png, return the table.

    With no runs nothing is written (an existing leaderboard is kept) and `rows` is empty.
    """
    results_dir = Path(results_dir)
    grouped = collect(results_dir, mixed_protocols) if grouped is None else grouped
    against = default_against(results_dir, grouped) if against is None else against
    header, rows = table_rows(grouped)
    if not rows:
        return header, rows
    fileio.ensure_writable_dir(results_dir)
    paired = paired_rows(grouped)
    body = ("# reftbench leaderboard\n\nOpen-tier strict accuracy (%) per family on the in-domain "
            "(id) and out-of-domain (ood) test splits (classification: the exact label set); "
            f"{MEAN_STD}. {_legend(keys(grouped))}.\n"
            f"Written by `reftbench leaderboard` from {results_dir.as_posix()}/runs/*/"
            "results.json and scores.json.\n\n")
    fileio.write_atomic(results_dir / "LEADERBOARD.md",
                        body + markdown(header, rows) + _made_elsewhere(grouped)
                        + _differences(grouped, paired, against) + _sampling(grouped)
                        + _findings(paired) + _run_note(results_dir, grouped))
    plot(grouped, paired, results_dir / "leaderboard.png", against)
    return header, rows
