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


def show_leaderboard(results_dir: Path, console: Console) -> None:
    """Build the leaderboard files and print the table (or say there is nothing yet)."""
    from reftbench.reports.leaderboard import build, collect, sampling_rows

    grouped = collect(results_dir)  # once: each skipped file is reported once
    header, rows = build(results_dir, grouped)
    if not rows:
        console.print(f"no results in {results_dir / 'runs'} yet: run `reftbench eval` first "
                      "(the committed reference runs: --results-dir results)", markup=False)
        return
    table = Table(title="reftbench leaderboard: open-tier strict accuracy (%)")
    for name in header:
        # "family/split" headers fold at the slash, and cells fold rather than lose digits.
        table.add_column(name.replace("/", "\n"), justify="left" if name == "model" else "right",
                         overflow="fold", no_wrap=name == "model")
    for row in rows:
        table.add_row(*map(escape, row))
    console.print(table)
    header, rows = sampling_rows(grouped)
    if rows:
        sampled = Table(title="greedy, sampled and pass@K (%, average of the three families)")
        for name in header:
            sampled.add_column(name.replace("/", "\n"), overflow="fold",
                               justify="left" if name == "model" else "right")
        for row in rows:
            sampled.add_row(*map(escape, row))
        console.print(sampled)
    console.print(f"wrote {results_dir / 'LEADERBOARD.md'} and {results_dir / 'leaderboard.png'}",
                  markup=False)
