"""Hostile and careless input, as a table: every case is one command that must end with one line
(`error: ...`, or the interrupt message), a non-zero status and no traceback, before any slow
work, leaving no file behind (no half-written run, no empty run folder that would block the
corrected command) and nothing outside the folders it was given.

Each case runs `reftbench ARGS` in-process (the `cli` fixture) from a fresh working folder
`work/`, so default output folders land there too; hostile inputs are made in `in/` first.
Placeholders in ARGS: {in} (the inputs folder), {work}, {data} (a --data folder whose id.jsonl
starts with the case's bad row, then a good one).
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
    for key, value in case.env.items():
        monkeypatch.setenv(key, value)
    before, around = tree(tmp_path), sorted(os.listdir(tmp_path.parent))
    args = [a.format(**{"in": inputs, "work": work, "data": inputs / "data"}) for a in case.args]
    code, _, err = cli(*args)

    assert code == case.status, err
    assert "Traceback" not in err and err.count("\n") == 1, err
    assert err.startswith("error: ") or case.status != 2, err
    assert case.expected.format(work=work) in err, err
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
