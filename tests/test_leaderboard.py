"""The leaderboard: means and standard deviations over seeds, averages, files, no-runs message."""

import json

from reftbench.reports.columns import heading, measures
from reftbench.reports.leaderboard import build

COLUMNS = [heading(k) for k in measures(general=False)]


def write_run(results_dir, run_id, label, accuracies, seed=None, date="2026-01-01T00:00:00+00:00"):
    """A results.json as the evaluator writes it; `accuracies` maps "family/split" -> accuracy."""
    metrics = {f"{key}/open": {"n": 100, "accuracy": acc, "accuracy_stderr": 0.01, "format": 1.0}
               for key, acc in accuracies.items()}
    metrics["math/id/judge"] = {"n": 100, "accuracy": 0.99, "format": 1.0}  # not the open tier
    extra = {} if seed is None else {"seed": seed}
    res = {"label": label, "run_id": run_id, "metrics": metrics, "config": {"extra": extra},
           "provenance": {"date": date}}
    (results_dir / "runs" / run_id).mkdir(parents=True)
    (results_dir / "runs" / run_id / "results.json").write_text(json.dumps(res))


def accs(det_id, det_ood, cls_id, cls_ood, math_id, math_ood):
    return {"detection/id": det_id, "detection/ood": det_ood, "classification/id": cls_id,
            "classification/ood": cls_ood, "math/id": math_id, "math/ood": math_ood}


def markdown_rows(path):
    lines = [line for line in path.read_text().splitlines() if line.startswith("| ")]
    header = [c.strip() for c in lines[0].strip("|").split("|")]
    rows = {}
    for line in lines[1:]:
        cells = [c.strip() for c in line.strip("|").split("|")]
        rows[cells[0]] = dict(zip(header[1:], cells[1:]))
    return header, rows


def test_table_means_stds_and_averages(tmp_path):
    write_run(tmp_path, "reft-s0", "curr-reft", accs(.5, .2, .6, .3, .1, .4), seed=0)
    write_run(tmp_path, "reft-s1", "curr-reft", accs(.7, .4, .8, .3, .3, .2), seed=1)
    write_run(tmp_path, "sft-old", "sft", accs(0, 0, 0, 0, 0, 0), date="2025-06-01T00:00:00+00:00")
    write_run(tmp_path, "sft-new", "sft", accs(.9, .1, .8, .2, .7, .3))
    write_run(tmp_path, "partial", "detection-only", {"detection/id": .25, "detection/ood": .5})
    (tmp_path / "runs" / "foreign").mkdir()
    (tmp_path / "runs" / "foreign" / "results.json").write_text("[1, 2]")

    header, rows = build(tmp_path)
    header_md, table = markdown_rows(tmp_path / "LEADERBOARD.md")
    assert header == header_md == ["model", "runs"] + COLUMNS
    assert [r[0] for r in rows] == list(table)
    assert table["curr-reft"] == {
        "runs": "2",
        "det id": "60.0 ± 14.1", "det ood": "30.0 ± 14.1",
        "cls id": "70.0 ± 14.1", "cls ood": "30.0 ± 0.0",
        "math id": "20.0 ± 14.1", "math ood": "30.0 ± 14.1",
        # Per-run averages 0.4 and 0.6 (id), 0.3 and 0.3 (ood).
        "avg id": "50.0 ± 14.1", "avg ood": "30.0 ± 0.0",
    }
    # The newer sft run (same label, no seed) replaces the older one.
    assert table["sft"] == {"runs": "1", "det id": "90.0", "det ood": "10.0",
                            "cls id": "80.0", "cls ood": "20.0",
                            "math id": "70.0", "math ood": "30.0",
                            "avg id": "80.0", "avg ood": "20.0"}
    # A run without every family has no average (it would not be comparable).
    assert table["detection-only"]["det id"] == "25.0"
    assert table["detection-only"]["math id"] == "-" and table["detection-only"]["avg id"] == "-"
    text = (tmp_path / "LEADERBOARD.md").read_text()
    assert "mean ± standard deviation over runs (seeds)" in text
    assert "det = detection, cls = classification" in text
    png = (tmp_path / "leaderboard.png").read_bytes()
    assert png.startswith(b"\x89PNG") and len(png) > 5000


def test_no_runs_gives_a_message_and_writes_nothing(tmp_path, cli):
    assert build(tmp_path) == (["model", "runs"] + COLUMNS, [])
    code, out, err = cli("leaderboard", "--results-dir", tmp_path)
    assert code == 0 and not err
    assert "no results in" in out and "reftbench eval" in out
    assert list(tmp_path.iterdir()) == []


def test_leaderboard_command_prints_every_label(tmp_path, cli):
    write_run(tmp_path, "a", "grpo", accs(.5, .2, .6, .3, .1, .4))
    code, out, err = cli("leaderboard", "--results-dir", tmp_path)
    assert code == 0, err
    assert "grpo" in out and "50.0" in out and "LEADERBOARD.md" in out
    assert (tmp_path / "LEADERBOARD.md").exists()


def test_a_cut_or_foreign_results_file_is_skipped_with_a_warning(tmp_path, caplog):
    import logging

    write_run(tmp_path, "good", "sft", accs(.5, .2, .6, .3, .1, .4))
    write_run(tmp_path, "cut", "grpo", accs(.5, .2, .6, .3, .1, .4))
    cut = tmp_path / "runs" / "cut" / "results.json"
    cut.write_text(cut.read_text()[:100])
    (tmp_path / "runs" / "other").mkdir()
    (tmp_path / "runs" / "other" / "results.json").write_text("[1, 2]")
    with caplog.at_level(logging.WARNING, logger="reftbench.reports.leaderboard"):
        _, rows = build(tmp_path)
    assert [row[0] for row in rows] == ["sft"]
    messages = [rec.getMessage() for rec in caplog.records]
    assert f"{cut}: skipped: not readable JSON (cut short or edited?)" in messages
    assert any("other/results.json: skipped: not a results file" in m for m in messages)


def test_rows_the_comparison_did_not_run_are_named(tmp_path):
    """A results folder whose compare.json ran grpo only, with an sft run copied in beside it."""
    write_run(tmp_path, "base", "base", accs(.5, .2, .6, .3, .1, .4))
    write_run(tmp_path, "grpo-s0", "grpo", accs(.5, .2, .6, .3, .1, .4), seed=0)
    write_run(tmp_path, "sft-s0", "sft", accs(.5, .2, .6, .3, .1, .4), seed=0)
    (tmp_path / "compare.json").write_text(json.dumps({
        "command": "reftbench compare --trainers grpo", "config": {"trainers": ["grpo"]},
        "provenance": {"git_commit": "abc", "machine": "m", "versions": {"torch": "t"}},
        "timings": {"grpo-seed0": 1.0}, "total_seconds": 60}))
    build(tmp_path)
    text = (tmp_path / "LEADERBOARD.md").read_text()
    line = next(x for x in text.splitlines() if x.startswith("Rows not made by this command"))
    assert line.rstrip().endswith(": sft")
    assert f"from {tmp_path.as_posix()}/runs/*/results.json" in text
    # Without the copied run, no such line.
    (tmp_path / "runs" / "sft-s0" / "results.json").unlink()
    build(tmp_path)
    assert "Rows not made by this command" not in (tmp_path / "LEADERBOARD.md").read_text()


def test_differences_from_the_base_with_intervals_and_what_can_be_resolved(tmp_path, cli):
    from crafted import draw, write

    write(tmp_path, draw({"sft": {"id": .06}, "grpo": {"ood": -.06}}))
    build(tmp_path)
    text = (tmp_path / "LEADERBOARD.md").read_text()
    diff = text.split("## Difference from base")[1].split("###")[0]

    def cell(label, column):  # "+5.8 [+4.7, +6.8] *" -> (5.8, 4.7, 6.8, True)
        line = next(x for x in diff.splitlines() if x.startswith(f"| {label} |"))
        value = line.split("|")[2 + COLUMNS.index(column)].strip()
        numbers = [float(x) for x in value.replace("[", " ").replace("]", " ").replace(",", " ")
                   .split() if x != "*"]
        return (*numbers, value.endswith("*"))

    effect, low, high, marked = cell("sft", "avg id")
    assert abs(effect - 6) < 1.5 and low < effect < high and low > 0 and marked
    effect, low, high, marked = cell("grpo", "avg ood")
    assert abs(effect + 6) < 1.5 and high < 0 and marked
    effect, low, high, marked = cell("grpo", "avg id")
    assert low < 0 < high and not marked
    assert "smallest difference this comparison detects with 80% power" in text
    assert "**holds**" in text and "95% CI" in text
    # Against another row: sft becomes the reference.
    code, out, err = cli("leaderboard", "--results-dir", tmp_path, "--against", "sft")
    assert code == 0, err
    assert "## Difference from sft" in (tmp_path / "LEADERBOARD.md").read_text()
    code, _, err = cli("leaderboard", "--results-dir", tmp_path, "--against", "sfx")
    assert code == 2 and "--against sfx: no such row" in err


def test_a_real_data_comparison_is_read_against_its_own_base_row(tmp_path, cli):
    from crafted import draw, write

    # `compare --data mydata` labels its rows "<method>@mydata", its base row "base@mydata".
    write(tmp_path, {f"{label}@mydata": runs
                     for label, runs in draw({"sft": {"id": .06}}).items()})
    code, out, err = cli("leaderboard", "--results-dir", tmp_path)
    assert code == 0, err
    text = (tmp_path / "LEADERBOARD.md").read_text()
    assert "## Difference from base@mydata" in text and "| sft@mydata | +" in text
    assert "1. SFT improves in-domain more than out-of-domain: **holds**" in text


def test_an_80_column_terminal_breaks_no_heading_word(tmp_path):
    """Headings wrap between words ("det" over "id"), never inside one ("detec/tion")."""
    from crafted import draw, write
    from rich.console import Console

    from reftbench.reports.terminal import show_leaderboard

    write(tmp_path, draw({"sft": {"id": .06}}))
    write_run(tmp_path, "chance", "chance: best constant", accs(.1, .1, .1, .1, .2, .1))
    console = Console(width=80, record=True)
    show_leaderboard(tmp_path, console)
    text = console.export_text()
    assert max(len(line) for line in text.splitlines()) <= 80
    words = {"model", "runs", "det", "cls", "math", "avg", "gen", "id", "ood"}
    lines = text.splitlines()
    rules = [i for i, line in enumerate(lines) if set(line.strip()) == {"─"}]
    assert len(rules) >= 2                      # the table and the differences
    for rule in rules[:2]:
        heading_lines = []
        for line in reversed(lines[:rule]):
            if not set(line.split()) <= words:
                break
            heading_lines.append(line)
        assert heading_lines and all(set(line.split()) <= words for line in heading_lines)
    assert "curr-reft" in text and "constant" in text   # labels wrap between words too
    assert "SFT improves in-domain more than out-of-domain: holds" in text


def edited(tmp_path, run_id, change):
    """A good run `run_id`, then `change(results)` written over it (a hand edit)."""
    write_run(tmp_path, run_id, run_id, accs(.5, .2, .6, .3, .1, .4))
    path = tmp_path / "runs" / run_id / "results.json"
    res = json.loads(path.read_text())
    change(res)
    path.write_text(json.dumps(res))


# Hand edits the leaderboard must skip (one warning each), and what the warning says.
EDITS = {
    "metric-text": (lambda r: r["metrics"]["math/id/open"].update(accuracy="0.5"),
                    "math/id/open accuracy is '0.5', not a number"),
    "entry-text": (lambda r: r["metrics"].update({"math/id/open": "0.5"}),
                   "metric math/id/open is '0.5', not a mapping"),
    "strict-text": (lambda r: r["metrics"]["math/id/open"].update(strict="yes"),
                    "math/id/open strict is 'yes', not a number"),
    "label-list": (lambda r: r.update(label=["a"]), "label is ['a'], not text"),
    "label-int": (lambda r: r.update(label=3), "label is 3, not text"),
    "config-text": (lambda r: r.update(config="x"), "config is 'x', not a mapping"),
    "extra-list": (lambda r: r["config"].update(extra=[1]), "config extra is [1], not a mapping"),
    "above-one": (lambda r: r["metrics"]["math/id/open"].update(accuracy=1.7),
                  "math/id/open accuracy is 1.7, outside 0 to 1"),
    "not-finite": (lambda r: r["metrics"]["math/id/open"].update(accuracy=float("nan")),
                   "math/id/open accuracy is nan, outside 0 to 1"),
    "n-fraction": (lambda r: r["metrics"]["math/id/open"].update(n=2.5),
                   "math/id/open n is 2.5, not a count"),
}


def test_hand_edited_results_are_skipped_once_each_and_the_rest_printed(tmp_path, cli, caplog):
    import logging

    write_run(tmp_path, "good", "sft", accs(.5, .2, .6, .3, .1, .4))
    for run_id, (change, _) in EDITS.items():
        edited(tmp_path, run_id, change)
    with caplog.at_level(logging.WARNING, logger="reftbench.reports.leaderboard"):
        code, out, err = cli("leaderboard", "--results-dir", tmp_path)
    assert code == 0 and "Traceback" not in err, err
    assert "sft" in out and "50.0" in out
    messages = [rec.getMessage() for rec in caplog.records]
    assert len(messages) == len(EDITS), messages  # one line per file, not two
    for run_id, (_, why) in EDITS.items():
        assert f"{tmp_path / 'runs' / run_id / 'results.json'}: skipped: {why}" in messages
    assert [row.split("|")[1].strip() for row in (tmp_path / "LEADERBOARD.md").read_text()
            .splitlines() if row.startswith("| ") and "model" not in row] == ["sft"]


def test_a_label_with_markup_or_a_bar_prints_as_written(tmp_path, cli):
    write_run(tmp_path, "a", "grpo [red]x[/red] | y", accs(.5, .2, .6, .3, .1, .4))
    code, out, err = cli("leaderboard", "--results-dir", tmp_path)
    import re

    # The terminal table may wrap a long label between words; each word prints as written.
    label_column = " ".join(line.split("  ")[0].strip() for line in out.splitlines()
                            if line.strip() and not line.startswith(" "))
    assert code == 0 and "grpo [red]x[/red] | y" in label_column, out

    lines = [line for line in (tmp_path / "LEADERBOARD.md").read_text().splitlines()
             if line.startswith("| ")]
    cells = [re.split(r"(?<!\\)\|", line)[1:-1] for line in lines]
    assert cells[1][0].strip() == "grpo [red]x[/red] \\| y"
    assert len(cells[1]) == len(cells[0])  # the columns are not shifted


def test_a_damaged_compare_record_drops_only_its_note(tmp_path, caplog):
    import logging

    write_run(tmp_path, "a", "grpo", accs(.5, .2, .6, .3, .1, .4))
    (tmp_path / "compare.json").write_text('{"command": 3}')
    with caplog.at_level(logging.WARNING, logger="reftbench.reports.leaderboard"):
        _, rows = build(tmp_path)
    assert [row[0] for row in rows] == ["grpo"]
    assert "How these numbers were made" not in (tmp_path / "LEADERBOARD.md").read_text()
    assert any("compare.json: not read" in rec.getMessage() for rec in caplog.records)
