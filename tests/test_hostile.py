"""Hostile and careless input, as a table: every case is one command that must end with one line
(`error: ...`, or the interrupt message), a non-zero status and no traceback, before any slow
work, leaving no file behind (no half-written run, no empty run folder that would block the
corrected command) and nothing outside the folders it was given.

Each case runs `reftbench ARGS` in-process (the `cli` fixture) from a fresh working folder
`work/`, so default output folders land there too; hostile inputs are made in `in/` first.
Placeholders in ARGS (and in a case's expected text and environment): {in} (the inputs
folder), {work}, {data} (a --data folder whose id.jsonl starts with the case's bad row, then a
good one). The error line is also held under 1,000 characters: a huge value is never echoed.

Cases named `sweep-...` are issue 37's fresh sweep (inputs its list did not name); the note
of that issue records how each one ended before its fix.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import pytest
from conftest import N_TEST

FIXTURE = Path(__file__).parent / "fixtures" / "refdata"
GOOD = {"problem": "<image>How many?", "solution": "<answer>3</answer>", "task": "math",
        "image": "images/0.png"}
# Every eval case reads small splits and few samples, so the rare case that gets far is quick.
EVAL = ("eval", "--model", "random-micro", "--n-test", str(N_TEST), "--limit", "1",
        "--results-dir", "{work}/results")
DATA = (*EVAL, "--data", "{data}", "--strict")
# Every train case would otherwise be a small, fast run.
TRAIN = ("train", "grpo", "--model", "random-micro", "--n_train", "4", "--n_test", str(N_TEST))


@dataclass
class Case:
    """One hostile command and what the user must see."""

    # Short name (the test id).
    name: str
    # The command line after `reftbench` (placeholders: see the module docstring).
    args: tuple[str, ...]
    # Text the one line must contain.
    expected: str
    # Exit status.
    status: int = 2
    # The bad data row (a dict, or the raw text of a line) written first in {data}/id.jsonl.
    row: dict | str | None = None
    # Makes other hostile inputs: setup(inputs folder, work folder, monkeypatch).
    setup: Callable | None = None
    # Extra environment for the command.
    env: dict = field(default_factory=dict)


def write(path: Path, data: bytes | str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data if isinstance(data, bytes) else data.encode("utf-8", "surrogatepass"))
    return path


def image(name: str, data: bytes) -> Callable:
    """A setup that puts `data` at {data}/images/<name>."""
    return lambda inputs, work, mp: write(inputs / "data" / "images" / name, data)


def bomb(inputs, work, mp):
    from PIL import Image

    Image.new("1", (10_000, 9_000)).save(inputs / "data" / "images" / "bomb.png")


def outside_link(inputs, work, mp):
    write(inputs / "secret.png", (FIXTURE / "images" / "0.png").read_bytes())
    (inputs / "data" / "images" / "link.png").symlink_to(inputs / "secret.png")


def split_named_folder(inputs, work, mp):
    (inputs / "data" / "id.jsonl").unlink()
    (inputs / "data" / "id.jsonl").mkdir()


def split_named_fifo(inputs, work, mp):
    (inputs / "data" / "id.jsonl").unlink()
    os.mkfifo(inputs / "data" / "id.jsonl")


def only_train_rows(inputs, work, mp):
    (inputs / "data" / "id.jsonl").rename(inputs / "data" / "train.jsonl")


def damaged_datasets_folder(inputs, work, mp):
    write(inputs / "ds" / "state.json", "{not json")


def model_copy(inputs: Path, damage: Callable[[Path], None]) -> None:
    from reftbench.model.names import ensure_preset

    shutil.copytree(ensure_preset("random-micro"), inputs / "model")
    damage(inputs / "model")


def truncated_weights(inputs, work, mp):
    def cut(folder):
        with open(folder / "model.safetensors", "r+b") as fh:
            fh.truncate(5000)
    model_copy(inputs, cut)


def garbage_header(inputs, work, mp):
    model_copy(inputs,
               lambda f: write(f / "model.safetensors", b"\x10" + b"\0" * 7 + b"garbage!" * 2))


def bad_model_config(inputs, work, mp):
    model_copy(inputs, lambda f: write(f / "config.json", "{"))


def a_file(name: str) -> Callable:
    return lambda inputs, work, mp: write(work / name, "not a folder")


def yaml_file(text: str) -> Callable:
    return lambda inputs, work, mp: write(inputs / "c.yaml", text)


def train_run(*overrides: str) -> Callable:
    """A crashed training run in {work}/run: its config.json and an unfinished stage."""
    def setup(inputs, work, mp):
        from reftbench.training.run import _run_meta, prepare

        args = [*TRAIN[2:], *overrides]
        _, cfg, _, run, model = prepare("grpo", "tiny", None, args, work / "run", resume=False)
        _run_meta(run, "grpo", "tiny", cfg, False, model)
        (run / "stages" / "1-open").mkdir(parents=True)
    return setup


def eval_run(model: str, results: bool = False) -> Callable:
    """An unfinished (or finished) eval run `r1` of `model` in {work}/results."""
    def setup(inputs, work, mp):
        run = work / "results" / "runs" / "r1"
        write(run / "samples.jsonl", "")
        write(run / "identity.json", json.dumps({"model": model}))
        if results:
            write(run / "samples.jsonl", json.dumps({"id": "x"}) + "\n")
    return setup


def signal_during_eval(name: str) -> Callable:
    def setup(inputs, work, mp):
        import signal
        import time

        import reftbench.reports.terminal

        def interrupted(*args, **kwargs):
            os.kill(os.getpid(), getattr(signal, name))
            time.sleep(5)
        mp.setattr(reftbench.reports.terminal, "run_eval", interrupted)
    return setup


CASES = [
    # --data folders (read before any model loads; --strict makes a bad row stop the run)
    Case("data-missing", (*EVAL, "--data", "{in}/nope"), "does not exist (or is not a folder)"),
    Case("data-is-a-file", (*EVAL, "--data", "{in}/f"), "is not a folder",
         setup=lambda i, w, mp: write(i / "f", "x")),
    Case("data-no-splits", (*EVAL, "--data", "{in}"), "has no train.jsonl, id.jsonl"),
    Case("data-split-is-a-folder", DATA, "id.jsonl: not read: not a regular file",
         setup=split_named_folder),
    Case("data-split-is-a-fifo", DATA, "id.jsonl: not read: not a regular file",
         setup=split_named_fifo),
    Case("data-stray-file", DATA, "notes.jsonl: not read: name it",
         setup=lambda i, w, mp: write(i / "data" / "notes.jsonl", "{}\n")),
    Case("data-only-train-rows", (*EVAL, "--data", "{data}"), "has no id/ood test rows",
         setup=only_train_rows),
    Case("data-damaged-datasets", (*EVAL, "--data", "{in}/ds"), "cannot load the datasets folder",
         setup=damaged_datasets_folder),
    Case("row-bad-json", DATA, "id.jsonl:1: not valid JSON", row='{"problem": '),
    Case("row-not-utf8", DATA, "id.jsonl:1: not UTF-8 text", row="\udcff{}"),
    Case("row-a-list", DATA, "id.jsonl:1: a row must be a JSON object", row="[1, 2]"),
    Case("row-nested-100k", DATA, "id.jsonl:1: JSON nested too deeply",
         row='{"problem": ' + "[" * 100_000 + "]" * 100_000 + "}"),
    Case("row-lone-surrogate", DATA, "id.jsonl:1: field problem holds '\\ud800', a lone surrogate",
         row=dict(GOOD, problem="How many \ud800?")),
    Case("row-1mb-question", DATA, "id.jsonl:1: question is 1,000,000 characters long",
         row=dict(GOOD, problem="x" * 1_000_000)),
    Case("row-missing-field", DATA, "id.jsonl:1: missing field(s) solution",
         row={k: v for k, v in GOOD.items() if k != "solution"}),
    Case("row-field-not-text", DATA, "id.jsonl:1: field(s) problem must be strings",
         row=dict(GOOD, problem=["a"])),
    Case("row-unknown-task", DATA, "id.jsonl:1: unknown task 'segmentation'",
         row=dict(GOOD, task="segmentation")),
    Case("row-letters-without-options", DATA, "id.jsonl:1: answer 'B' is a letter choice",
         row=dict(GOOD, solution="<answer>B</answer>")),
    Case("row-bad-box", DATA, "id.jsonl:1: open answer 'left' is not a box",
         row=dict(GOOD, task="detection", solution="<answer>left</answer>")),
    Case("image-escapes", DATA, "id.jsonl:1: image path '../../x.png' leaves the data folder",
         row=dict(GOOD, image="../../x.png")),
    Case("image-absolute", DATA, "id.jsonl:1: image path '/etc/hostname' leaves the data folder",
         row=dict(GOOD, image="/etc/hostname")),
    Case("image-symlink-out", DATA, "id.jsonl:1: image path 'images/link.png' leaves",
         row=dict(GOOD, image="images/link.png"), setup=outside_link),
    Case("image-missing", DATA, "id.jsonl:1: image 'images/nope.png' does not exist",
         row=dict(GOOD, image="images/nope.png")),
    Case("image-empty", DATA, "id.jsonl:1: image e.png is empty",
         row=dict(GOOD, image="images/e.png"), setup=image("e.png", b"")),
    Case("image-garbage", DATA, "id.jsonl:1: image g.png is corrupt or not an image",
         row=dict(GOOD, image="images/g.png"), setup=image("g.png", b"\x89PNG\r\n\x1a\nnope")),
    Case("image-truncated", DATA, "id.jsonl:1: image t.png is corrupt or not an image",
         row=dict(GOOD, image="images/t.png"),
         setup=image("t.png", (FIXTURE / "images" / "1.png").read_bytes()[:120])),
    Case("image-bomb", DATA, "id.jsonl:1: image bomb.png has over 89,478,485 pixels",
         row=dict(GOOD, image="images/bomb.png"), setup=bomb),
    # training config: every range checked before any folder, data or model
    Case("steps-negative", (*TRAIN, "--grpo_steps", "-5"),
         "'grpo_steps' must be at least 1, got -5"),
    Case("beta-negative", (*TRAIN, "--beta", "-1"), "'beta' must be at least 0, got -1.0"),
    Case("group-of-zero", (*TRAIN, "--num_generations", "0"),
         "'num_generations' must be at least 2"),
    Case("lr-nan", (*TRAIN, "--grpo_lr", "nan"), "'grpo_lr' must be a finite number, got nan"),
    Case("lr-zero", (*TRAIN, "--grpo_lr", "0"), "'grpo_lr' must be above 0"),
    Case("temperature-negative", (*TRAIN, "--temperature", "-1"), "'temperature' must be above 0"),
    Case("completion-length-0", (*TRAIN, "--max_completion_length", "0"),
         "'max_completion_length' must be at least 1"),
    Case("prompts-per-step-0", (*TRAIN, "--prompts_per_step", "0"),
         "'prompts_per_step' must be at least 1"),
    Case("dtype-float8", (*TRAIN, "--dtype", "float8"), "'dtype' must be one of float32, bfloat16"),
    Case("seed-huge", (*TRAIN, "--seed", str(2**40)), "'seed' must be between 0 and 4294967295"),
    Case("seed-negative", (*TRAIN, "--seed", "-1"), "'seed' must be between 0 and 4294967295"),
    Case("scheduler-typo", (*TRAIN, "--lr_scheduler", "cosinus"), "'lr_scheduler' must be one of"),
    Case("stage-steps-zero",
         ("train", "curr-rl", "--model", "random-micro", "--stage_steps", "0,1,1"),
         "'stage_steps' must be at least 1, got 0"),
    Case("stages-typo",
         ("train", "curr-rl", "--model", "random-micro", "--stages", "judge,opne,open"),
         "unknown tier 'opne' (did you mean open?)"),
    Case("stages-lengths",
         ("train", "curr-rl", "--model", "random-micro", "--stages", "judge,open"),
         "stages, stage_steps and stage_generations must have the same length"),
    Case("unknown-key", (*TRAIN, "--grpo_stepz", "3"), "unknown config key 'grpo_stepz'"),
    Case("wrong-type", (*TRAIN, "--grpo_steps", "three"), "'grpo_steps' expects int, got 'three'"),
    Case("override-no-value", (*TRAIN, "--beta"), "override --beta needs a value"),
    Case("stray-argument", (*TRAIN, "oops"), "unexpected argument 'oops'"),
    Case("unknown-family", (*TRAIN, "--families", "maths"), "unknown task family 'maths'"),
    Case("yaml-missing", (*TRAIN, "--config", "{in}/nope.yaml"),
         "does not exist (or is not a file)"),
    Case("yaml-a-folder", (*TRAIN, "--config", "{in}"), "does not exist (or is not a file)"),
    Case("yaml-malformed", (*TRAIN, "--config", "{in}/c.yaml"), "is not valid YAML at line",
         setup=yaml_file("beta: [1,\n")),
    Case("yaml-python-tag", (*TRAIN, "--config", "{in}/c.yaml"), "is not valid YAML",
         setup=yaml_file("beta: !!python/object/apply:os.system ['touch pwned']\n")),
    Case("yaml-nested-100k", (*TRAIN, "--config", "{in}/c.yaml"), "nested too deeply",
         setup=yaml_file("a: " + "[" * 100_000 + "]" * 100_000)),
    Case("yaml-not-a-mapping", (*TRAIN, "--config", "{in}/c.yaml"), "must hold a mapping",
         setup=yaml_file("- beta\n")),
    Case("eval-seed-negative", (*EVAL, "--seed", "-1"), "'seed' must be between 0 and 4294967295"),
    Case("eval-batch-zero", (*EVAL, "--batch-size", "0"), "batch-size must be at least 1"),
    # models
    Case("model-missing", ("eval", "--model", "{in}/nope", "--results-dir", "{work}/results"),
         "does not exist"),
    Case("model-not-a-model", ("eval", "--model", "{in}", "--results-dir", "{work}/results"),
         "is not a model folder (no config.json)"),
    Case("model-truncated", (*EVAL, "--model", "{in}/model"), "its weights are damaged",
         setup=truncated_weights),
    Case("model-garbage-header", (*EVAL, "--model", "{in}/model"), "its weights are damaged",
         setup=garbage_header),
    Case("model-bad-config", (*EVAL, "--model", "{in}/model"), "cannot load model",
         setup=bad_model_config),
    Case("train-model-missing", ("train", "grpo", "--model", "{in}/nope"), "neither a preset"),
    # output folders
    Case("run-id-escapes", (*EVAL, "--run-id", "../../escaped"), "run-id must be a plain folder"),
    Case("run-id-absolute", (*EVAL, "--run-id", "{work}/abs"), "run-id must be a plain folder"),
    Case("results-dir-a-file", (*EVAL[:-1], "{work}/blocker"), "not writable",
         setup=a_file("blocker")),
    Case("results-dir-under-a-file", (*EVAL[:-1], "{work}/blocker/results"), "not writable",
         setup=a_file("blocker")),
    Case("train-output-a-file", (*TRAIN, "--output", "{work}/blocker"),
         "output folder {work}/blocker is not writable: it is a file", setup=a_file("blocker")),
    Case("train-output-under-a-file", (*TRAIN, "--output", "{work}/blocker/run"),
         "is not writable: {work}/blocker is a file", setup=a_file("blocker")),
    Case("train-results-under-a-file", (*TRAIN, "--results-dir", "{work}/blocker/r"),
         "is not writable: {work}/blocker is a file", setup=a_file("blocker")),
    Case("train-run-exists", (*TRAIN, "--output", "{work}/run"),
         "already holds a run; pass --resume",
         setup=train_run()),
    Case("train-resume-nothing", (*TRAIN, "--output", "{work}/run", "--resume"),
         "holds no run to resume"),
    Case("train-resume-changed", (*TRAIN, "--output", "{work}/run", "--resume", "--beta", "0.1"),
         "was started with other settings (beta 0.0 -> 0.1)", setup=train_run()),
    Case("eval-resume-other-model", (*EVAL, "--run-id", "r1", "--resume"),
         "was started with a different model ('fingerprint 000000000000'",
         setup=eval_run("fingerprint 000000000000")),
    Case("eval-resume-nothing", (*EVAL, "--resume"),
         "--resume: no unfinished run of 'random-micro'"),
    Case("eval-run-has-results", (*EVAL, "--run-id", "r1"), "already has results; pass --resume",
         setup=eval_run("random-micro", results=True)),
    # the command line
    Case("cli-family-typo", (*EVAL, "--tasks", "detectoin"), "did you mean detection"),
    Case("cli-tier-typo", (*EVAL, "--tiers", "opne"), "unknown tier 'opne'"),
    Case("cli-unknown-trainer", ("train", "curr-reftt"), "unknown trainer 'curr-reftt'"),
    Case("cli-compare-seeds", ("compare", "--seeds", "a,b"), "--seeds expects comma-separated"),
    Case("cli-sigint", EVAL, "interrupted; rerun with --resume", 130,
         setup=signal_during_eval("SIGINT")),
    Case("cli-sigterm", EVAL, "interrupted; rerun with --resume", 143,
         setup=signal_during_eval("SIGTERM")),
]


def with_file(path: str, text: str, after: Callable | None = None) -> Callable:
    """A setup that runs `after` (if any), then writes `text` at {work}/<path>."""
    def setup(inputs, work, mp):
        if after:
            after(inputs, work, mp)
        write(work / path, text)
    return setup


def yaml_bomb(inputs, work, mp):
    """Seven levels of nine aliases under one key: 4.8 million items from a 1 kB file."""
    levels = ["&a0 [x, x, x, x, x, x, x, x, x]"]
    levels += [f"&a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 7)]
    write(inputs / "c.yaml", f"lora_target_modules: [[{', '.join(levels)}]]\n")


def thin_image(inputs, work, mp):
    from PIL import Image

    Image.new("RGB", (2, 600)).save(inputs / "data" / "images" / "thin.png")


def model_folder(inputs, work, mp):
    """A model folder (the micro preset's files) at {in}/model."""
    model_copy(inputs, lambda folder: None)


def finished_eval_run(inputs, work, mp):
    """A finished evaluation run folder at {work}/results/runs/r1."""
    eval_run("random-micro", results=True)(inputs, work, mp)
    write(work / "results" / "runs" / "r1" / "results.json", json.dumps({"metrics": {}}))


def compare_started(inputs, work, mp):
    """Nothing: `compare` cases point --output and --results-dir into {work}."""


def without(args: tuple[str, ...], key: str) -> tuple[str, ...]:
    """`args` less the option `key` and its value."""
    at = args.index(key)
    return args[:at] + args[at + 2:]


# A micro base build (seconds, if it ever started).
BASE = ("base", "--model", "random-micro", "--vision_steps", "0", "--locate_steps", "0",
        "--sft_steps", "1", "--sft_batch_size", "2", "--n_general", "12", "--n_test",
        str(N_TEST))
COMPARE = ("compare", "--trainers", "grpo", "--seeds", "0", "--eval-limit", "1", "--general",
           "0", "--output", "{work}/c", "--results-dir", "{work}/results")

# Round 2 (issue 37): the issue's own cases, then a fresh sweep (names start with "sweep-").
CASES += [
    Case("train-output-a-model", (*TRAIN, "--output", "{in}/model"),
         "is not empty and holds no reftbench training run", setup=model_folder),
    Case("train-output-an-eval-run", (*TRAIN, "--output", "{work}/results/runs/r1"),
         "is not empty and holds no reftbench training run", setup=finished_eval_run),
    Case("train-resume-other-trainer",
         ("train", "sft", "--model", "random-micro", "--n_train", "4", "--n_test", str(N_TEST),
          "--output", "{work}/run", "--resume"),
         "--resume: {work}/run holds a grpo run, not sft", setup=train_run()),
    Case("home-a-file", ("data", "--tasks", "math", "--small"),
         "REFTBENCH_HOME={in}/f is not a usable folder: it is a file", setup=lambda i, w, mp: write(i / "f", "x"),
         env={"REFTBENCH_HOME": "{in}/f"}),
    Case("home-under-a-file", ("data", "--tasks", "math", "--small"),
         "REFTBENCH_HOME={in}/f/home is not a usable folder: {in}/f is a file",
         setup=lambda i, w, mp: write(i / "f", "x"), env={"REFTBENCH_HOME": "{in}/f/home"}),
    Case("row-100k-digit-number", DATA, "id.jsonl:1: a number in it has over 4,300 digits",
         row='{"problem": "How many?", "n": ' + "9" * 100_000 + "}"),
    Case("compare-seeds-empty", (*COMPARE[:3], "--seeds", "", *COMPARE[5:]),
         "--seeds names no seed"),
    Case("compare-seeds-negative", (*COMPARE[:3], "--seeds", "-1", *COMPARE[5:]),
         "'seed' must be between 0 and 4294967295, got -1"),
    Case("demo-unknown-trainer", ("demo", "--trainer", "nope", "--output", "{work}/d",
                                  "--results-dir", "{work}/dr"), "unknown trainer 'nope'"),
    Case("base-steps-negative", (*without(BASE, "--sft_steps"), "--sft_steps", "-1", "--output",
                                 "{work}/b"),
         "'sft_steps' must be at least 1, got -1"),
    Case("base-lr-nan", (*BASE, "--sft_lr", "nan", "--output", "{work}/b"),
         "'sft_lr' must be a finite number, got nan"),
    Case("run-id-newline", (*EVAL, "--run-id", "a\nb"), "run-id must be a plain folder name"),
    Case("run-id-escape-codes", (*EVAL, "--run-id", "\x1b[31mred"),
         "run-id must be a plain folder name"),
    Case("strict-without-data", (*EVAL, "--strict"), "--strict goes with --data"),
    Case("max-new-tokens-beyond-context", (*EVAL, "--max-new-tokens", "100000"),
         "--max-new-tokens 100000 is beyond random-micro's context of"),
    Case("yaml-duplicate-key", (*TRAIN, "--config", "{in}/c.yaml"),
         "config file {in}/c.yaml sets 'grpo_steps' twice (lines 1 and 2)",
         setup=yaml_file("grpo_steps: 1\ngrpo_steps: 500000\n")),
    Case("row-answer-too-long", DATA, "id.jsonl:1: answer is 10,000 characters long",
         row=dict(GOOD, solution="<answer>" + "1" * 10_000 + "</answer>")),
    Case("image-a-folder", DATA, "id.jsonl:1: image 'images' is a folder, not a file",
         row=dict(GOOD, image="images")),
    # The sweep: 40 cases the issue does not list.
    Case("sweep-eval-max-pixels-0", (*EVAL, "--max-pixels", "0"),
         "need 0 < min_pixels <= max_pixels"),
    Case("sweep-eval-min-above-max", (*EVAL, "--min-pixels", "5000", "--max-pixels", "100"),
         "need 0 < min_pixels <= max_pixels, got 5000 and 100"),
    Case("sweep-run-id-too-long", (*EVAL, "--run-id", "x" * 300),
         "run-id is 300 characters long"),
    Case("sweep-label-control", (*EVAL, "--label", "a\nb"), "label holds a control character"),
    Case("sweep-model-empty", ("eval", "--model", "", "--results-dir", "{work}/results"),
         "--model is empty"),
    Case("sweep-train-families-empty", (*TRAIN, "--families", ""),
         "config key 'families' names no task family"),
    Case("families-twice", (*TRAIN, "--families", "math,math"),
         "config key 'families' names math twice"),
    Case("sweep-curr-rl-no-stages", ("train", "curr-rl", "--model", "random-micro", "--stages",
                                     "", "--stage_steps", "", "--stage_generations", ""),
         "config key 'stages' names no stage"),
    Case("sweep-yaml-non-text-key", (*TRAIN, "--config", "{in}/c.yaml"),
         "config file {in}/c.yaml: key 1 is not a config key name", setup=yaml_file("1: 2\n")),
    Case("sweep-yaml-huge-int", (*TRAIN, "--config", "{in}/c.yaml"),
         "is not valid YAML: a number with over 4,300 digits",
         setup=yaml_file("grpo_steps: " + "9" * 100_000 + "\n")),
    Case("sweep-yaml-alias-bomb", (*TRAIN, "--config", "{in}/c.yaml"),
         "config key 'lora_target_modules' expects str, got [['x', 'x'", setup=yaml_bomb),
    Case("sweep-override-huge-int", (*TRAIN, "--grpo_steps", "9" * 100_000),
         "config key 'grpo_steps' expects int, got '99999"),
    Case("sweep-override-twice", (*TRAIN, "--beta", "0.1", "--beta", "0.2"),
         "override --beta is given twice"),
    Case("sweep-train-min-above-max", (*TRAIN, "--min_pixels", "5000", "--max_pixels", "100"),
         "need 0 < min_pixels <= max_pixels, got 5000 and 100"),
    Case("sweep-train-eval-tokens-beyond-context",
         (*TRAIN, "--eval_max_new_tokens", "100000"),
         "config key 'eval_max_new_tokens' 100000 is beyond random-micro's context of"),
    Case("sweep-resume-config-a-list", (*TRAIN, "--output", "{work}/run", "--resume"),
         "{work}/run is not empty and holds no reftbench training run (it has config.json",
         setup=with_file("run/config.json", "[1]", train_run())),
    Case("sweep-resume-stage-record-damaged", (*TRAIN, "--output", "{work}/run", "--resume"),
         "{work}/run/stages/1-grpo/stage.json is damaged",
         setup=with_file("run/stages/1-grpo/stage.json", "{", train_run())),
    Case("sweep-train-output-too-long", (*TRAIN, "--output", "{work}/" + "x" * 300),
         "is not writable: its name is too long"),
    Case("sweep-train-output-control", (*TRAIN, "--output", "{work}/a\x1b[31mb"),
         "folder names may not hold control characters"),
    Case("sweep-base-vision-lr-nan", (*BASE, "--vision_lr", "nan", "--output", "{work}/b"),
         "'vision_lr' must be a finite number, got nan"),
    Case("sweep-base-n-general-0", (*without(BASE, "--n_general"), "--n_general", "0",
                                    "--output", "{work}/b"),
         "'n_general' must be at least 1, got 0"),
    Case("sweep-base-batch-0", (*BASE, "--vision_batch_size", "0", "--output", "{work}/b"),
         "'vision_batch_size' must be at least 1, got 0"),
    Case("sweep-base-output-not-a-model", (*BASE, "--output", "{in}/keep"),
         "--output {in}/keep is not empty and holds no model built by reftbench base",
         setup=lambda i, w, mp: write(i / "keep" / "notes.txt", "mine")),
    Case("sweep-base-output-a-file", (*BASE, "--output", "{work}/blocker"),
         "output folder {work}/blocker is not writable: it is a file", setup=a_file("blocker")),
    Case("sweep-data-seed-negative", ("data", "--tasks", "math", "--small", "--seed", "-1"),
         "'seed' must be between 0 and 4294967295, got -1"),
    Case("sweep-chance-n-test-0", ("chance", "--n-test", "0", "--results-dir", "{work}/results"),
         "n-test must be at least 1"),
    Case("sweep-compare-eval-limit-0", (*COMPARE[:6], "0", *COMPARE[7:]),
         "--eval-limit must be at least 1, got 0"),
    Case("sweep-compare-general-negative", (*COMPARE[:8], "-1", *COMPARE[9:]),
         "--general must be 0 or more, got -1"),
    Case("sweep-compare-preset-typo", (*COMPARE, "--preset", "tiniy"),
         "unknown preset 'tiniy' (did you mean tiny?)"),
    Case("sweep-compare-bad-override", (*COMPARE, "--grpo_steps", "-1"),
         "'grpo_steps' must be at least 1, got -1"),
    Case("sweep-demo-output-a-file", ("demo", "--output", "{work}/blocker", "--results-dir",
                                      "{work}/dr"), "is not writable", setup=a_file("blocker")),
    Case("sweep-demo-bad-override", ("demo", "--grpo_stepz", "1", "--output", "{work}/d",
                                     "--results-dir", "{work}/dr"),
         "unknown config key 'grpo_stepz'"),
    Case("sweep-eval-identity-a-list", (*EVAL, "--run-id", "r1", "--resume"),
         "identity.json is damaged",
         setup=with_file("results/runs/r1/identity.json", "[1]", eval_run("random-micro"))),
    Case("sweep-row-box-infinite", DATA, "id.jsonl:1: open answer '[0, 0, 1e999, 5]' is not a box",
         row=dict(GOOD, task="detection", solution="<answer>[0, 0, 1e999, 5]</answer>")),
    Case("sweep-image-aspect-ratio", DATA, "id.jsonl:1: image thin.png is 2x600 pixels",
         row=dict(GOOD, image="images/thin.png"), setup=thin_image),
    Case("sweep-replay-missing", ("train", "curr-reft", "--model", "random-micro", "--n_train",
                                  "4", "--n_test", str(N_TEST), "--replay_data",
                                  "{in}/nope.jsonl"), "nope.jsonl"),
    Case("sweep-eval-n-test-0", (*EVAL[:4], "0", *EVAL[5:]), "n-test must be at least 1"),
    Case("sweep-eval-device-cuda", (*EVAL, "--device", "cuda"), "no CUDA device is visible"),
    Case("sweep-eval-results-dir-devnull", (*EVAL[:-1], "/dev/null"), "not writable"),
    Case("sweep-yaml-null-int", (*TRAIN, "--config", "{in}/c.yaml"),
         "'grpo_steps' expects int, got None", setup=yaml_file("grpo_steps: null\n")),
    Case("sweep-train-seed-fraction", (*TRAIN, "--seed", "1.5"), "'seed' expects int, got '1.5'"),
    Case("sweep-config-a-png", (*TRAIN, "--config", str(FIXTURE / "images" / "0.png")),
         "cannot read config file"),
    Case("sweep-base-model-missing", ("base", "--model", "{in}/nope", "--vision_steps", "0",
                                      "--output", "{work}/b"), "neither a preset"),
    Case("sweep-eval-tiers-empty", (*EVAL, "--tiers", ","), "no tier given"),
    Case("sweep-data-tasks-general", ("data", "--tasks", "general"),
         "unknown task family 'general'"),
    Case("sweep-chance-draws-negative", ("chance", "--draws", "-1", "--results-dir",
                                         "{work}/results"), "--draws must be at least 1"),
    Case("sweep-image-root-not-a-release", (*DATA, "--image-root", "{in}"),
         "--image-root is for the Curr-ReFT release layout"),
]


def tree(root: Path) -> dict[str, bool]:
    """Every path under root -> whether it is a folder."""
    return {str(p.relative_to(root)): p.is_dir() for p in root.rglob("*")}


def prepare_inputs(case: Case, inputs: Path, work: Path, monkeypatch) -> None:
    ("The --data folder (its id.jsonl: the case's bad row, then a good one) "
     "and the case's setup.")
    data = inputs / "data"
    shutil.copytree(FIXTURE / "images", data / "images")
    lines = [] if case.row is None else [case.row]
    lines.append(GOOD)
    write(data / "id.jsonl", "".join((r if isinstance(r, str) else json.dumps(r)) + "\n"
                                     for r in lines))
    if case.setup:
        case.setup(inputs, work, monkeypatch)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_hostile_input_ends_with_one_line_and_leaves_nothing(case, cli, tmp_path, monkeypatch,
                                                             micro):
    inputs, work = tmp_path / "in", tmp_path / "work"
    inputs.mkdir()
    work.mkdir()
    prepare_inputs(case, inputs, work, monkeypatch)
    monkeypatch.chdir(work)
    places = {"in": inputs, "work": work, "data": inputs / "data"}
    for key, value in case.env.items():
        monkeypatch.setenv(key, value.format(**places))
    before, around = tree(tmp_path), sorted(os.listdir(tmp_path.parent))
    code, _, err = cli(*[a.format(**places) for a in case.args])

    assert code == case.status, err[-3000:]
    assert "Traceback" not in err and err.count("\n") == 1, err[-3000:]
    assert err.startswith("error: ") or case.status != 2, err
    assert case.expected.format(**places) in err, err[:3000]
    assert len(err) < 1000, f"{len(err):,} characters: {err[:300]}..."  # never echo a huge value
    after = tree(tmp_path)
    new = {path for path in after if path not in before}
    # Only the empty results folder eval checks first may appear; never a file, never a run.
    assert all(after[p] and Path(p).name in ("outputs", "results", "runs") for p in new), \
        sorted(new)
    assert sorted(os.listdir(tmp_path.parent)) == around, "nothing written beside tmp_path"
    assert (tmp_path.parent / "escaped").exists() is False


def test_the_table_covers_every_kind_of_input():
    kinds = {"data": ("data-", "row-", "image-"), "config": ("steps", "beta", "group", "lr-",
                                                            "yaml-", "seed", "stage"),
             "models": ("model-",), "outputs": ("run-id", "results-dir", "train-output",
                                                "train-run", "resume"),
             "cli": ("cli-",)}
    for kind, prefixes in kinds.items():
        assert sum(any(p in c.name for p in prefixes) for c in CASES) >= 4, kind
    assert len(CASES) >= 40 and len({c.name for c in CASES}) == len(CASES)
    # Issue 37's own sweep: cases its list did not name, each kept here once it held.
    assert sum(c.name.startswith("sweep-") for c in CASES) >= 30
