"""Terminal presentation: progress bars and result tables (rich), kept out of the logic."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from reftbench import fileio
from reftbench.samples import FAMILIES, TEST_SPLITS, TIERS


def progress_bar(console: Console) -> Progress:
    """The bar used for long loops."""
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TimeRemainingColumn(), console=console, transient=False)


def run_eval(cfg, results_dir: Path, resume: bool, console: Console, lmms_manager=None) -> dict:
    """Evaluate with a progress bar, then print the per-family table (and cfg.lmms_tasks' scores).

    The output folder and the model are checked before the test splits are generated, so a
    typo in either fails in seconds, not after minutes of data generation. Under `accelerate
    launch` every rank evaluates its share; only the main process shows anything.
    """
    import contextlib

    from reftbench.evaluation.evaluate import evaluate, make_backend, select_samples
    from reftbench.distributed import is_main

    fileio.ensure_writable_dir(Path(results_dir) / "runs")
    shown = is_main()
    with console.status(f"loading {escape(cfg.model)}") if shown else contextlib.nullcontext():
        backend = make_backend(cfg)
    with console.status("preparing the test splits") if shown else contextlib.nullcontext():
        total = len(select_samples(cfg))
    with progress_bar(console) if shown else contextlib.nullcontext() as bar:
        task = bar.add_task(f"eval {escape(cfg.label or cfg.model)}", total=total) if bar else None
        results = evaluate(cfg, results_dir, resume=resume, backend=backend,
                           progress=(lambda k: bar.advance(task, k)) if bar else None)
    if cfg.lmms_tasks and shown:
        results = _add_lmms(results, backend, cfg, cfg.lmms_tasks, lmms_manager, results_dir,
                            console)
    if shown:
        console.print(results_table(results))
        console.print(f"wrote {results_dir / 'runs' / results['run_id'] / 'results.json'}",
                      markup=False)
    return results


def _add_lmms(results, backend, cfg, tasks, manager, results_dir: Path, console) -> dict:
    """Run standard benchmarks through lmms-eval with the loaded model; same results file."""
    from importlib.metadata import version

    from reftbench.lmms.run import run_lmms_tasks

    with console.status(f"lmms-eval: {', '.join(tasks)}"):
        scores = run_lmms_tasks(backend, tasks, limit=cfg.limit, batch_size=cfg.batch_size,
                                manager=manager)
    results["metrics"].update(scores)
    results["provenance"]["lmms_eval"] = version("lmms-eval")
    fileio.write_json(Path(results_dir) / "runs" / results["run_id"] / "results.json", results)
    for task, entry in scores.items():
        shown = ", ".join(f"{k}={v:.4g}" for k, v in entry.items()
                          if isinstance(v, float) and not k.endswith("stderr"))
        console.print(f"{task}: {shown} (n={entry.get('n')})")
    return results


def _pct(metric: dict | None, field: str, stderr: bool = False) -> str:
    """A metric as a percentage ('±' its standard error when asked), '-' when missing."""
    from reftbench.reports.leaderboard import strict

    value = strict(metric, field)
    if value is None:
        return "-"
    if not stderr:
        return f"{100 * value:.1f}"
    err_field = "strict" if field == "strict" and "strict" in metric else "accuracy"
    return f"{100 * value:.1f}±{100 * metric.get(f'{err_field}_stderr', 0):.1f}"


def results_table(results: dict) -> Table:
    """One row per family x tier x split (long, so it fits an 80-column terminal): strict
    accuracy ± standard error (and, with --samples K, sampled accuracy and pass@K), format rate
    and n."""
    metrics = results["metrics"]
    ks = sorted({m["samples"] for m in metrics.values() if isinstance(m, dict) and m.get("samples")})
    extra = ("sampled", "pass_k") if ks else ()
    names = {"sampled": "sampled", "pass_k": f"pass@{'/'.join(map(str, ks))}"}
    table = Table(title=f"{escape(str(results['label']))}: strict accuracy % ± standard error")
    for name in ("family", "tier", "split", "acc", *(names[f] for f in extra), "format", "n"):
        table.add_column(name, no_wrap=True,
                         justify="left" if name in ("family", "tier", "split") else "right")
    for family in (*FAMILIES, "general"):
        for tier in TIERS:
            for split in TEST_SPLITS:
                metric = metrics.get(f"{family}/{split}/{tier}")
                if not metric:
                    continue
                cells = [_pct(metric, f, stderr=f == "strict") for f in ("strict", *extra)]
                table.add_row(family, tier, split, *cells, f"{100 * metric['format']:.0f}",
                              str(metric["n"]))
    return table


def show_leaderboard(results_dir: Path, console: Console, against: str | None = None,
                     mixed_protocols: bool = False) -> None:
    """Build the leaderboard files and print them: the table, each row's difference from
    `against` with its interval, what the comparison can resolve, the claims (or say there is
    nothing yet). Fits an 80-column terminal: short headings, cells that wrap between words."""
    from reftbench.reports import findings
    from reftbench.reports.leaderboard import (MEAN_STD, build, collect, differences, keys,
                                               default_against, paired_rows, resolution,
                                               sampling_rows)

    grouped = collect(results_dir, mixed_protocols)  # once: each skipped file is reported once
    against = default_against(results_dir, grouped) if against is None else against
    header, rows = build(results_dir, against, mixed_protocols, grouped)
    if not rows:
        console.print(f"no results in {results_dir / 'runs'} yet: run `reftbench eval` first "
                      "(the committed reference runs: --results-dir results)", markup=False)
        return
    console.print(narrow_table(f"reftbench leaderboard: open-tier strict accuracy (%), {MEAN_STD}",
                               header, [[c.replace(" ± ", " ±") for c in row] for row in rows],
                               console.width))
    paired = paired_rows(grouped)
    diffs = differences(grouped, paired, against)
    if diffs:
        from reftbench.reports.columns import heading

        shown = keys(grouped)
        with_interval = any(e.low is not None for d in diffs.values() for e in d.values())
        title = (f"difference from {against} (points) ± half its 95% interval; * the interval "
                 "excludes 0" if with_interval else
                 f"difference from {against} (points; no intervals: no per-question scores)")
        console.print()
        console.print(narrow_table(title, ["model"] + [heading(k) for k in shown],
                                   [[label] + [_diff(d[k]) for k in shown]
                                    for label, d in diffs.items()], console.width))
        note = resolution(grouped, paired, against)
        if note:
            console.print(note, highlight=False)
    header, rows = sampling_rows(grouped)
    if rows:
        console.print()
        console.print(narrow_table("greedy, sampled and pass@K (%, average of the three "
                                   "families)", header, rows, console.width))
    lines = findings.claims(paired)
    if lines:
        console.rule("the paper's claims at this scale")
        for line in lines:
            console.print(_bold(line.strip()), highlight=False)
    console.print(f"wrote {results_dir / 'LEADERBOARD.md'} and {results_dir / 'leaderboard.png'}",
                  markup=False)


def narrow_table(title: str, header: list[str], rows: list[list[str]], width: int) -> Table:
    """A table with no vertical rules that, when its cells do not fit `width` on one line,
    makes every column as wide as its longest word: cells then wrap between words and never
    inside one ("det id" becomes "det" over "id" on an 80-column terminal, not "de/t id")."""
    from rich import box

    table = Table(title=title, box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
    columns = list(zip(header, *rows))
    # Each column's text, a space either side and a rule between (none at the table's edges).
    one_line = sum(max(len(text) for text in column) for column in columns) + 3 * len(header) - 3
    for i, column in enumerate(columns):
        longest = max(len(word) for text in column for word in text.split() or [""])
        table.add_column(header[i], justify="left" if i == 0 else "right", overflow="fold",
                         no_wrap=one_line <= width, width=None if one_line <= width else longest)
    for row in rows:
        table.add_row(*map(escape, row))
    return table


def _diff(est) -> str:
    """A difference cell: "+4.0* ±1.9" (the star: the interval excludes zero), "+4.0" without
    an interval."""
    from reftbench.reports.leaderboard import excludes_zero

    if est.effect is None:
        return "-"
    text = f"{100 * est.effect:+.1f}"
    if est.half_width is None:
        return text
    return text + ("*" if excludes_zero(est) else "") + f" ±{100 * est.half_width:.1f}"


def _bold(markdown_line: str) -> str:
    """**word** as rich bold, the rest printed as written."""
    import re

    from rich.markup import escape

    parts = re.split(r"\*\*(.+?)\*\*", markdown_line)
    return "".join(f"[bold]{escape(p)}[/bold]" if i % 2 else escape(p) for i, p in enumerate(parts))


def show_plan(results_dir: Path, effect_points: float, console: Console,
              against: str = "base") -> None:
    """`reftbench compare --plan EFFECT`: from the runs in `results_dir` (a finished comparison
    or a pilot), each comparison's smallest detectable difference now, and the seeds or the
    questions per cell it needs to detect `effect_points`."""
    from reftbench.errors import UserError
    from reftbench.reports.leaderboard import collect, compared, paired_rows
    from reftbench.reports.power import MAX_SEEDS, plan

    if not effect_points > 0:
        raise UserError(f"--plan takes a difference in points above 0, got {effect_points}")
    grouped = collect(results_dir)
    labels = compared(grouped, against)
    plans = plan(paired_rows(grouped), labels, against, effect_points / 100) \
        if against in grouped else []
    if not plans:
        raise UserError(f"no runs with per-question scores beside a '{against}' row in "
                        f"{Path(results_dir) / 'runs'}: run a pilot first, e.g. reftbench compare "
                        "--seeds 0,1 --eval-limit 100 --results-dir outputs/pilot")
    header = ["comparison", "column", "now", "seeds", "questions"]
    rows = [[p.name, p.column.replace("/", " "), f"{100 * p.now:.1f}",
             (str(p.seeds) if p.seeds else f">{MAX_SEEDS}") if p.seeds_measured else "?",
             str(p.per_cell) if p.per_cell else "more seeds"] for p in plans]
    runs, questions = max(p.runs for p in plans), min(p.questions for p in plans)
    at_runs = "1 run" if runs == 1 else f"{runs} runs"
    console.print(narrow_table(f"to detect {effect_points:g} points: the seeds or the questions "
                               "per cell it takes", header, rows, console.width))
    seeds, per_cell = [p.seeds for p in plans], [p.per_cell for p in plans]
    measured = any(p.seeds_measured for p in plans)
    every = [f"{max(per_cell)} questions per cell (at {at_runs} per row)" if all(per_cell)
             else f"no number of questions alone (at {at_runs} per row)"]
    if measured:
        every.insert(0, (f"{max(seeds)} runs per row" if all(seeds) else
                         f"more than {MAX_SEEDS} runs per row") + f" (at {questions} questions)")
    console.print(f"now: the smallest difference each comparison detects (80% power, 5% "
                  f"two-sided) at {questions} questions per cell and {at_runs} per row; seeds: "
                  f"runs per row needed at {questions} questions per cell; questions: per cell, "
                  f"at {at_runs} per row (\"more seeds\": the runs' spread leaves a floor more "
                  f"questions cannot pass). Every comparison at once: {', or '.join(every)}.",
                  highlight=False)
    if not measured:
        console.print("One run per row: the seed-to-seed noise is not measured (counted as "
                      "none); a pilot with 2 or more seeds plans seeds too.", highlight=False)
