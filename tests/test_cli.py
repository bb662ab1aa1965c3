"""The command line as a user meets it: help, one-line errors with exit 2, a real eval run.

Commands run in-process through `reftbench.cli.main` (the `cli` fixture in conftest.py); the
import-cost checks run in a subprocess so that nothing this test session imported counts.
"""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import N_TEST

from reftbench.data.generated import ensure_split, split_dir
from reftbench.errors import UserError

ROOT = Path(__file__).resolve().parents[1]


def one_line_error(code, err, *expected):
    """Exit 2, a single 'error:' line on stderr containing every expected text, no traceback."""
    assert code == 2, err
    assert "Traceback" not in err
    assert err.startswith("error: ") and err.count("\n") == 1, err
    for text in expected:
        assert text in err, (text, err)


def test_help_lists_the_commands(cli):
    code, out, _ = cli("--help")
    assert code == 0
    for command in ("data", "eval", "leaderboard", "train"):
        assert f" {command} " in out


COMMANDS = ("data", "eval", "leaderboard", "chance", "train", "base", "demo", "compare")


@pytest.mark.parametrize("command", ["", *COMMANDS])
def test_help_names_types_plainly_and_shows_an_example(cli, command):
    code, out, _ = cli(*([command] if command else []), "--help")
    assert code == 0
    # No <str>, <bool>, <int>, <path> beside the options, and none beside --help itself.
    assert not [line for line in out.splitlines()
                if any(f"<{kind}>" in line for kind in ("str", "bool", "int", "float", "path"))]
    assert next(line for line in out.splitlines() if "--help" in line).split() == [
        "│", "--help", "Show", "this", "message", "and", "exit.", "│"]
    assert f"Example: reftbench {command}".rstrip() in out
    if command in ("eval", "train"):  # an option that takes a value says what kind
        assert " PATH " in out and " TEXT " in out


def test_unknown_task_family_suggests_the_nearest(cli):
    one_line_error(*cli("eval", "--tasks", "detectoin")[::2], "detectoin", "did you mean detection")
    one_line_error(*cli("data", "--tasks", "math,clasification")[::2],
                   "did you mean classification")


def test_an_empty_name_list_is_a_one_line_error(cli):
    one_line_error(*cli("compare", "--trainers", ",")[::2], "no trainer given")
    one_line_error(*cli("eval", "--tasks", "")[::2], "no task family given")


def test_unknown_tier_and_split(cli):
    one_line_error(*cli("eval", "--tiers", "open,opne")[::2], "unknown tier 'opne'",
                   "did you mean open")
    one_line_error(*cli("eval", "--splits", "oods")[::2], "unknown split 'oods'",
                   "did you mean ood")


def test_bad_numbers_are_one_line_errors(cli):
    one_line_error(*cli("eval", "--batch-size", "0")[::2], "batch-size must be at least 1")
    one_line_error(*cli("eval", "--limit", "-3")[::2], "limit must be at least 1")


def test_unknown_option_or_bad_type_is_a_usage_error_not_a_traceback(cli):
    for args, expected in ((("eval", "--general", "5"), "No such option: --general"),
                           (("eval", "--limit", "abc"), "Invalid value for '--limit'")):
        code, _, err = cli(*args)
        assert code == 2 and "Traceback" not in err, err
        assert expected in err and err.count("Error:") == 1, err


def test_missing_model_path_fails_before_generating_data(cli, tmp_path):
    missing = tmp_path / "no" / "such-checkpoint"
    code, _, err = cli("eval", "--model", missing, "--n-test", 9, "--results-dir", tmp_path / "r")
    one_line_error(code, err, str(missing), "does not exist")
    assert not split_dir("math", "id", 9, 0).exists(), "a typo must not cost a data generation"


def test_a_folder_that_is_not_a_model(cli, tmp_path):
    code, _, err = cli("eval", "--model", tmp_path, "--n-test", N_TEST,
                       "--results-dir", tmp_path / "r")
    one_line_error(code, err, str(tmp_path), "not a model folder")


def test_message_text_is_not_read_as_markup(cli, tmp_path):
    weird = tmp_path / "[red]ckpt[/red]"
    one_line_error(*cli("eval", "--model", weird)[::2], "[red]ckpt[/red]")


def test_debug_shows_the_traceback(cli):
    with pytest.raises(UserError):
        cli("--debug", "eval", "--tasks", "detectoin")


def test_corrupt_image_names_the_file(cli, tmp_path, monkeypatch, reftbench_home, micro):
    # A private home: its data is a copy of a generated split with one image overwritten, and
    # its models are the session's (so micro is not rebuilt).
    source = ensure_split("math", "id", N_TEST, 0)
    monkeypatch.setenv("REFTBENCH_HOME", str(tmp_path / "home"))
    copy = split_dir("math", "id", N_TEST, 0)
    shutil.copytree(source, copy)
    (tmp_path / "home" / "models").symlink_to(reftbench_home / "models")
    bad = copy / "images" / "000001.png"
    bad.write_bytes(b"\x89PNG not really an image")
    code, _, err = cli("eval", "--model", "random-micro", "--tasks", "math", "--splits", "id",
                       "--n-test", N_TEST, "--limit", 3, "--results-dir", tmp_path / "r")
    one_line_error(code, err, str(bad), "corrupt")


def test_unwritable_results_folder_fails_first(cli, tmp_path):
    # Tests may run as root, where chmod does not stop writes; a file as parent always does.
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    code, _, err = cli("eval", "--model", "random-micro", "--n-test", 11,
                       "--results-dir", blocker / "results")
    one_line_error(code, err, str(blocker / "results"), "not writable")
    assert not split_dir("math", "id", 11, 0).exists()


def test_train_list_names_the_trainers_without_importing_torch():
    check = ("import sys; from reftbench import registry; names = registry.trainers(); "
             "assert 'torch' not in sys.modules; print(' '.join(names))")
    out = subprocess.run([sys.executable, "-c", check], cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split()[:4] == ["sft", "grpo", "curr-rl", "curr-reft"]
    command = ("import sys; sys.argv = ['reftbench', 'train', '--list']\n"
               "from reftbench.cli import main\n"
               "try:\n    main()\nexcept SystemExit as e:\n    assert not e.code\n"
               "assert 'torch' not in sys.modules, 'train --list imported torch'")
    out = subprocess.run([sys.executable, "-c", command], cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    for name in ("sft", "grpo", "curr-rl", "curr-reft"):
        assert name in out.stdout


def test_train_list_shows_each_plugins_own_description_entry_points_too(cli, monkeypatch):
    from importlib.metadata import EntryPoint

    from reftbench import registry
    from trainers.sft import TRAINER

    plugin = EntryPoint(name="my-sft", value="trainers.sft:TRAINER", group="reftbench.trainers")
    broken = EntryPoint(name="broken", value="no_such_module:TRAINER", group="reftbench.trainers")
    monkeypatch.setattr(registry, "entry_points", lambda group: [plugin, broken])
    code, out, _ = cli("train", "--list")
    lines = {line.split()[0]: line.split(None, 1)[1] for line in out.splitlines()}
    assert code == 0 and list(lines)[:4] == ["sft", "grpo", "curr-rl", "curr-reft"]
    assert lines["sft"] == lines["my-sft"] == TRAINER.description
    assert lines["broken"].startswith("(cannot be loaded: ModuleNotFoundError")


def test_eval_end_to_end_prints_a_table(cli, tmp_path, micro):
    code, out, err = cli("eval", "--model", "random-micro", "--limit", 2, "--n-test", 20,
                         "--results-dir", tmp_path)
    assert code == 0, err
    assert "Traceback" not in err
    for family in ("detection", "classification", "math"):
        line = next(row for row in out.splitlines() if family in row)
        assert line.count("│ 2 ") + line.count(" 2 │") >= 2, line  # n = 2 for id and for ood
    results = next((tmp_path / "runs").glob("random-micro-*/results.json"))
    assert str(results) in out.replace("\n", "")
    metrics = json.loads(results.read_text())["metrics"]
    assert {m["n"] for m in metrics.values()} == {2} and len(metrics) == 6
    assert (split_dir("math", "ood", 20, 0) / "samples.jsonl").exists()


def git(repo: Path, *args) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True,
                          text=True).stdout


@pytest.fixture
def checkout(tmp_path, monkeypatch):
    """A git repository holding the project's .gitignore and committed results, as cwd."""
    repo = tmp_path / "checkout"
    shutil.copytree(ROOT / "results", repo / "results")
    shutil.copy(ROOT / ".gitignore", repo / ".gitignore")
    git(repo, "init", "-q")
    git(repo, "add", "-A")
    git(repo, "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-qm", "start")
    monkeypatch.chdir(repo)
    return repo


def test_a_first_eval_scores_the_trained_base_and_changes_no_tracked_file(cli, checkout):
    # No --model: the trained embedded model, not a random preset.
    code, out, err = cli("eval", "--limit", 1, "--n-test", N_TEST, "--tasks", "math",
                         "--splits", "id")
    assert code == 0, err
    run = next((checkout / "outputs" / "results" / "runs").glob("base-*/results.json"))
    assert json.loads(run.read_text())["label"] == "base"
    code, out, _ = cli("leaderboard")  # the user's own runs, by default
    assert code == 0 and "base" in out
    assert (checkout / "outputs" / "results" / "LEADERBOARD.md").exists()
    assert git(checkout, "status", "--porcelain") == ""


def test_every_default_results_and_run_folder_is_git_ignored(checkout):
    import typer

    from reftbench.cli import app

    defaults = {f"{command.name} {param.name}": param.default
                for command in typer.main.get_command(app).commands.values()
                for param in command.params
                if param.name in ("results_dir", "output") and param.default is not None}
    assert {"eval results_dir", "train results_dir", "leaderboard results_dir",
            "demo results_dir", "demo output", "compare output"} <= set(defaults)
    for name, folder in defaults.items():
        inside = Path(folder) / "runs" / "x" / "results.json"
        ignored = subprocess.run(["git", "-C", str(checkout), "check-ignore", "-q", str(inside)])
        assert ignored.returncode == 0, f"{name} defaults to {folder}, which git tracks"


def test_eval_device_dtype_and_tasks_none_are_checked_first(cli, tmp_path):
    import torch

    if not torch.cuda.is_available():
        one_line_error(*cli("eval", "--device", "cuda")[::2], "no CUDA device is visible")
    one_line_error(*cli("eval", "--device", "gpu0")[::2], "unknown device 'gpu0'")
    one_line_error(*cli("eval", "--dtype", "bf16")[::2], "unknown dtype 'bf16'")
    one_line_error(*cli("eval", "--tasks", "none")[::2], "--tasks none", "--lmms-tasks")
    one_line_error(*cli("eval", "--max-new-tokens", "0")[::2], "max-new-tokens must be at least 1")


def test_eval_device_dtype_and_completion_length_reach_generation(cli, tmp_path, micro):
    code, _, err = cli("eval", "--model", "random-micro", "--tasks", "math", "--splits", "id",
                       "--limit", 3, "--n-test", N_TEST, "--device", "cpu", "--dtype", "bfloat16",
                       "--max-new-tokens", 3, "--run-id", "short", "--results-dir", tmp_path)
    assert code == 0, err
    run = tmp_path / "runs" / "short"
    config = json.loads((run / "results.json").read_text())["config"]
    assert (config["device"], config["dtype"], config["max_new_tokens"]) == ("cpu", "bfloat16", 3)
    tokenizer = micro[1].tokenizer
    completions = [json.loads(line)["completion"] for line in
                   (run / "samples.jsonl").read_text().splitlines()]
    assert len(completions) == 3
    assert all(len(tokenizer(c, add_special_tokens=False)["input_ids"]) <= 3 for c in completions)


def test_tasks_none_runs_the_lmms_benchmarks_alone(cli, tmp_path, monkeypatch, micro):
    pytest.importorskip("lmms_eval")  # results.json records its version
    import reftbench.lmms.run
    import reftbench.reports.terminal

    calls = []
    monkeypatch.setattr(reftbench.lmms.run, "check_lmms_tasks", lambda tasks: "manager")

    def fake_run(backend, tasks, **kwargs):
        calls.append(list(tasks))
        return {"lmms/fake_bench": {"n": 2, "exact_match": 0.5}}

    monkeypatch.setattr(reftbench.lmms.run, "run_lmms_tasks", fake_run)
    monkeypatch.setattr(reftbench.reports.terminal, "results_table", lambda results: "table")
    code, _, err = cli("eval", "--model", "random-micro", "--tasks", "none",
                       "--lmms-tasks", "fake_bench",
                       "--run-id", "bench-only", "--results-dir", tmp_path)
    assert code == 0, err
    assert calls == [["fake_bench"]]
    results = json.loads((tmp_path / "runs/bench-only/results.json").read_text())
    assert list(results["metrics"]) == ["lmms/fake_bench"]  # no reftbench task was evaluated
    assert results["config"]["families"] == [] and results["config"]["lmms_tasks"] == ["fake_bench"]


@pytest.mark.parametrize("stop, status", [("SIGINT", 130), ("SIGTERM", 143)])
def test_an_interrupted_run_says_resume_and_exits_128_plus_the_signal(cli, monkeypatch, stop,
                                                                      status):
    import os
    import signal
    import time

    import reftbench.reports.terminal

    def interrupted(*args, **kwargs):
        os.kill(os.getpid(), getattr(signal, stop))
        time.sleep(5)  # the signal arrives before this ends
        raise AssertionError("the signal did not stop the run")

    monkeypatch.setattr(reftbench.reports.terminal, "run_eval", interrupted)
    before = signal.getsignal(signal.SIGTERM)
    code, _, err = cli("eval", "--model", "random-micro")
    assert code == status
    assert err == "interrupted; rerun with --resume to continue\n"
    assert signal.getsignal(signal.SIGTERM) is before, "main() restores the SIGTERM handler"


def test_compare_refuses_an_unknown_schedule_before_any_work(cli):
    one_line_error(*cli("compare", "--trainers", "curr-rl,curr-rl:bandid")[::2],
                   "unknown schedule 'bandid'", "did you mean bandit")


def test_a_name_given_twice_is_used_once():
    from reftbench.cli import csv
    from reftbench.evaluation.evaluate import EvalConfig

    cfg = EvalConfig(model="random-micro", families=("math", "math"), splits=("id", "id"),
                     tiers=("open", "judge", "open"))
    assert (cfg.families, cfg.splits, cfg.tiers) == (("math",), ("id",), ("open", "judge"))
    assert csv("sft,grpo,sft", "trainer", ("sft", "grpo")) == ("sft", "grpo")


class Unwritable:
    """A standard output whose writes fail as a closed pipe or a full disk does."""

    def __init__(self, error: OSError):
        self.error = error

    def write(self, text):
        raise self.error

    def flush(self):
        raise self.error

    def isatty(self):
        return False


@pytest.mark.parametrize("error", [BrokenPipeError(32, "Broken pipe"),
                                   OSError(28, "No space left on device")])
def test_an_unwritable_stdout_is_one_line_and_the_work_is_kept(cli, tmp_path, monkeypatch,
                                                               error):
    run = tmp_path / "runs" / "a"
    run.mkdir(parents=True)
    shutil.copy(next((ROOT / "results" / "runs").glob("*/results.json")), run)
    monkeypatch.setattr(sys, "stdout", Unwritable(error))
    code, _, err = cli("leaderboard", "--results-dir", tmp_path)
    assert code == 1 and err.count("\n") == 1 and "Traceback" not in err, err
    assert err.startswith(f"error: standard output cannot be written ({error.strerror})")
    assert (tmp_path / "LEADERBOARD.md").exists()  # written before the table was printed


def test_stdout_to_a_full_disk_ends_with_one_line_not_a_traceback_at_exit():
    done = subprocess.run(f"{sys.executable} -m reftbench train --list > /dev/full", shell=True,
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 1
    assert done.stderr == ("error: standard output cannot be written (No space left on "
                           "device); stopped there, and what was done before is kept (files "
                           "written, runs resumable with --resume)\n")


def test_a_label_with_markup_is_shown_as_written(cli, tmp_path, micro):
    code, out, err = cli("eval", "--model", "random-micro", "--tasks", "math", "--splits", "id",
                         "--limit", "1", "--n-test", N_TEST, "--label", "grpo [bold]x[/bold]",
                         "--results-dir", tmp_path)
    assert code == 0, err
    assert "grpo [bold]x[/bold]: strict accuracy" in out and "eval grpo [bold]x[/bold]" in out


def test_help_to_a_full_disk_is_one_line_too(cli, monkeypatch):
    monkeypatch.setattr(sys, "stdout", Unwritable(OSError(28, "No space left on device")))
    code, _, err = cli("eval", "--help")  # typer's own console, not reftbench's
    assert code == 1 and err.startswith("error: standard output cannot be written") \
        and err.count("\n") == 1, err
