"""lmms-eval runs reftbench's tasks with the `reftbench` model class and scores as `reftbench eval`.

Skipped when lmms-eval is not installed (`pip install -e '.[lmms]'`, README section lmms-eval).
The model is the micro architecture with large random weights (as in test_generation.py), saved
as a checkpoint: its completions depend on every prompt token and image pixel, so equal
completions mean lmms-eval built the same inputs, not merely that a flat model repeats itself.
"""

import json
import os
import shutil
import subprocess
import sys
import zlib

import pytest
import torch
from conftest import N_TEST

from reftbench import fileio
from reftbench.errors import UserError
from reftbench.evaluation.evaluate import EvalConfig, evaluate
from reftbench.generation.backends import TransformersBackend
from reftbench.samples import FAMILIES, TEST_SPLITS
from tasks.common import TASKS_DIR

pytest.importorskip("lmms_eval", reason="lmms-eval is not installed: pip install -e '.[lmms]' "
                                        "(README, section lmms-eval)")

from reftbench.lmms.run import check_tasks, run_lmms_tasks, task_manager  # noqa: E402

LIMIT = 3
SCORES = ("format", "accuracy", "reward", "iou")


@pytest.fixture(scope="module")
def lively(reftbench_home, tmp_path_factory):
    """A checkpoint folder: the micro model with large random weights (seeded)."""
    from reftbench.model.load import load_model
    from reftbench.model.names import ensure_preset

    folder = tmp_path_factory.mktemp("lively") / "model"
    shutil.copytree(ensure_preset("random-micro"), folder)
    model, _ = load_model(str(folder))
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for param in model.parameters():
            if param.dim() >= 2:
                param.copy_(torch.randn(param.shape, generator=gen) * 0.3)
    model.save_pretrained(folder)
    return folder


@pytest.fixture
def lmms_env(monkeypatch, tmp_path):
    """Small generated splits and a private datasets cache for lmms-eval's placeholder rows."""
    monkeypatch.setenv("REFTBENCH_LMMS_SCENES", str(N_TEST))
    monkeypatch.setenv("HF_DATASETS_CACHE", str(tmp_path / "hf-datasets"))
    monkeypatch.setenv("LMMS_EVAL_DATASETS_CACHE", str(tmp_path / "hf-datasets"))


def reftbench_rows(model, tmp_path, tiers, limit):
    """`reftbench eval`'s samples.jsonl rows, grouped as {(family, split): [rows in order]}."""
    cfg = EvalConfig(model=str(model), n_test=N_TEST, limit=limit, batch_size=LIMIT,
                     max_new_tokens=64, tiers=tiers, run_id="reference")
    evaluate(cfg, results_dir=tmp_path / "results")
    grouped = {}
    with open(tmp_path / "results" / "runs" / "reference" / "samples.jsonl") as fh:
        for line in fh:
            row = json.loads(line)
            grouped.setdefault((row["family"], row["split"]), []).append(row)
    return grouped


def test_lmms_eval_cli_scores_every_sample_as_reftbench_eval(lively, lmms_env, tmp_path):
    """`lmms-eval --include_path tasks --tasks reftbench_all --model reftbench`, all tiers."""
    env = dict(os.environ, REFTBENCH_LMMS_TIERS="judge,choice,open", OMP_NUM_THREADS="1")
    command = [sys.executable, "-m", "lmms_eval", "--include_path", str(TASKS_DIR),
               "--tasks", "reftbench_all", "--model", "reftbench",
               "--model_args", f"pretrained={lively}", "--batch_size", str(LIMIT),
               "--limit", str(LIMIT), "--log_samples", "--output_path", str(tmp_path / "lmms")]
    run = subprocess.run(command, env=env, capture_output=True, text=True, timeout=900)
    logs = {p.name: p for p in (tmp_path / "lmms").rglob("*_samples_*.jsonl")}
    # lmms-eval's CLI exits 0 after an error, so the evidence is the files it wrote.
    assert len(logs) == len(FAMILIES) * len(TEST_SPLITS), (run.stdout + run.stderr)[-3000:]

    # Scene 0's judge, choice and open records: what --limit 3 takes from each lmms-eval task.
    reference = reftbench_rows(lively, tmp_path, ("judge", "choice", "open"), limit=1)
    completions = set()
    for (family, split), rows in reference.items():
        (path,) = [p for name, p in logs.items() if f"_samples_reftbench_{family}_{split}." in name]
        logged = sorted((json.loads(line) for line in open(path)), key=lambda r: r["doc_id"])
        assert [r["target"] for r in logged] == [r["gold"] for r in rows]
        for mine, theirs in zip(logged, rows):
            assert mine["filtered_resps"] == theirs["completion"], theirs["id"]
            for key in SCORES:
                assert mine.get(key) == theirs.get(key), (theirs["id"], key)
            completions.add(theirs["completion"])
    assert len(completions) > len(reference), "the model must react to its inputs"


def test_run_lmms_tasks_metrics_equal_reftbench_eval(lively, lmms_env, tmp_path):
    """In-process, on a loaded backend, open tier (the tasks' default): the same means and n."""
    from reftbench.model.load import load_model

    backend = TransformersBackend(*load_model(str(lively)), batch_size=LIMIT)
    tasks = [f"reftbench_{family}_{split}" for family in ("detection", "math")
             for split in TEST_SPLITS]
    metrics = run_lmms_tasks(backend, tasks, limit=LIMIT, batch_size=LIMIT)
    reference = reftbench_rows(lively, tmp_path, ("open",), limit=LIMIT)
    assert set(metrics) == {f"lmms/{task}" for task in tasks}
    for task in tasks:
        family, split = task.split("_")[1:]
        rows = reference[(family, split)]
        entry = metrics[f"lmms/{task}"]
        assert entry["n"] == len(rows) == LIMIT
        for key in SCORES:
            if key in rows[0]:
                mean = sum(r[key] for r in rows) / len(rows)
                assert entry[key] == pytest.approx(mean, abs=1e-12), (task, key)
                assert f"{key}_stderr" in entry


def half_right(sample: dict) -> str:
    """The gold answer, well formatted, for about half the samples (fixed by id); else junk."""
    if zlib.crc32(sample["id"].encode()) % 2:
        return f"<think>easy</think><answer>{sample['answer']}</answer>"
    return "<think>hmm</think><answer>[1, 2, 3, 4] circle 7</answer>"


class HalfRightBackend:
    """reftbench's side: `half_right` through the evaluator's backend interface."""

    def generate(self, samples, sampling):
        return [[half_right(s)] for s in samples]


def test_lmms_metrics_equal_reftbench_eval_on_mixed_scores(micro, lmms_env, monkeypatch, tmp_path):
    """The same completions, right and wrong, give the same means through both harnesses."""
    from reftbench.lmms.model import ReftbenchLMM

    class HalfRightLMM(ReftbenchLMM):
        def generate_until(self, requests):
            return [half_right(self.task_dict[r.args[4]][r.args[5]][r.args[3]]) for r in requests]

    monkeypatch.setenv("REFTBENCH_LMMS_TIERS", "judge,choice,open")
    lm = HalfRightLMM(backend=TransformersBackend(*micro))
    metrics = run_lmms_tasks(lm, ["reftbench_all"], limit=2 * LIMIT)  # scenes 0 and 1, all tiers
    cfg = EvalConfig(model="random-micro", n_test=N_TEST, limit=2,
                     tiers=("judge", "choice", "open"),
                     run_id="half")
    reference = evaluate(cfg, results_dir=tmp_path, backend=HalfRightBackend())
    accuracies = set()
    for family in FAMILIES:
        for split in TEST_SPLITS:
            entry = metrics[f"lmms/reftbench_{family}_{split}"]
            rows = [r for r in fileio.read_jsonl(tmp_path / "runs" / "half" / "samples.jsonl")
                    if (r["family"], r["split"]) == (family, split)]
            assert entry["n"] == len(rows) == 2 * LIMIT
            for key in ("format", "accuracy", "reward"):
                mean = sum(r[key] for r in rows) / len(rows)
                assert entry[key] == pytest.approx(mean, abs=1e-12), (family, split, key)
            accuracies.add(entry["accuracy"])
    assert len(accuracies) > 2 and reference["metrics"], "scores must vary to prove anything"


@pytest.fixture(scope="module")
def manager():
    return task_manager()


@pytest.fixture
def offline(monkeypatch, tmp_path):
    """No hub, empty datasets and hub caches."""
    import datasets.config
    from huggingface_hub import constants

    from reftbench.lmms import run

    monkeypatch.setattr(run, "hub_reachable", lambda: False)
    monkeypatch.delenv("LMMS_EVAL_DATASETS_CACHE", raising=False)
    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", tmp_path / "datasets")
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    (tmp_path / "datasets").mkdir()
    return tmp_path


def test_hub_benchmark_offline_is_one_clear_line_before_any_model_loads(offline, manager):
    with pytest.raises(UserError) as err:
        # A model path that does not exist: the dataset check must fail first.
        run_lmms_tasks(str(offline / "no-model"), ["mathvista_testmini"], limit=2)
    message = str(err.value)
    assert "\n" not in message and message.startswith("lmms-eval task mathvista_testmini")
    assert "needs its dataset AI4Math/MathVista from the Hugging Face hub" in message
    assert "cannot be reached" in message
    # Once the dataset is cached, the same check lets the task through.
    (offline / "datasets" / "AI4Math___math_vista").mkdir()
    check_tasks(manager, ["mathvista_testmini"])
    # reftbench's own tasks read local files: never a hub question.
    check_tasks(manager, ["reftbench_all", "reftbench_math_ood"])


def test_unknown_task_and_model_args_are_user_errors(manager):
    from reftbench.lmms.model import ReftbenchLMM

    with pytest.raises(UserError, match=r"unknown lmms-eval task 'mathvist'.*did you mean"):
        check_tasks(manager, ["mathvist"])
    with pytest.raises(UserError, match="unknown model_args for the reftbench model: batchsize"):
        ReftbenchLMM(pretrained="random-micro", batchsize=3)


def test_generation_kwargs_reach_the_decoder(micro):
    from reftbench.lmms.model import ReftbenchLMM, cut

    lm = ReftbenchLMM(backend=TransformersBackend(*micro), max_new_tokens=99)
    sampling, stops = lm._decoding({"until": ["\n\n", "Q:"], "temperature": 0.7, "top_p": 0.9})
    assert (sampling.temperature, sampling.top_p, sampling.max_new_tokens) == (0.7, 0.9, 99)
    assert stops == ["Q:"] and cut("a\n\nb Q: c", stops) == "a\n\nb "
    sampling, stops = lm._decoding({"do_sample": False, "temperature": 0.7, "max_new_tokens": 8})
    assert (sampling.temperature, sampling.max_new_tokens, stops) == (0.0, 8, [])
    assert lm._decoding({"do_sample": True})[0].temperature == 1.0
    with pytest.raises(UserError, match="beam"):
        lm._decoding({"num_beams": 4})


@pytest.fixture
def damaged(reftbench_home, tmp_path):
    """A copy of the micro checkpoint whose weights file was cut short."""
    from reftbench.model.names import ensure_preset

    folder = tmp_path / "damaged"
    shutil.copytree(ensure_preset("random-micro"), folder)
    with open(folder / "model.safetensors", "r+b") as fh:
        fh.truncate(5000)
    return folder


@pytest.mark.parametrize("args, env, expected", [
    ("pretrained={tmp}/no-model", "", "does not exist"),
    ("pretrained={damaged}", "", "its weights are damaged"),
    ("pretrained=random-micro,dtype=float8", "", "unknown dtype 'float8'"),
    ("pretrained=random-micro,batchsize=3", "",
     "unknown model_args for the reftbench model: batchsize"),
    ("pretrained=random-micro", "opne", "unknown tier 'opne'"),
])
def test_a_bad_model_or_setting_stops_lmms_eval_with_one_line(damaged, tmp_path, capsys,
                                                               monkeypatch, args, env, expected):
    from reftbench.lmms.model import ReftbenchLMM

    monkeypatch.setenv("REFTBENCH_LMMS_TIERS", env)
    with pytest.raises(SystemExit) as stop:
        ReftbenchLMM.create_from_arg_string(args.format(tmp=tmp_path, damaged=damaged),
                                            {"batch_size": 2, "max_batch_size": None})
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1 and expected in err, err


def test_lmms_eval_exits_2_on_a_missing_model(tmp_path):
    """lmms-eval itself exits 0 after an error it catches; the model class's own stop is 2."""
    command = [sys.executable, "-m", "lmms_eval", "--include_path", str(TASKS_DIR),
               "--tasks", "reftbench_math_id", "--model", "reftbench",
               "--model_args", f"pretrained={tmp_path / 'no-model'}", "--limit", "1"]
    run = subprocess.run(command, capture_output=True, text=True, timeout=300,
                         env=dict(os.environ, OMP_NUM_THREADS="1"))
    assert run.returncode == 2, run.stderr[-2000:]
    assert "Traceback" not in run.stderr
    assert run.stderr.splitlines()[-1].startswith(
        f"error: model {tmp_path / 'no-model'} does not exist")


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("split", TEST_SPLITS)
def test_lmms_eval_reads_each_task_yaml_as_reftbench_does(family, split):
    """The shared template (tasks/task_template.yaml) comes in through lmms-eval's own
    `include:`: lmms-eval's loader and tasks.common.load_task_yaml give the same config."""
    import inspect
    from pathlib import Path

    from lmms_eval.utils import load_yaml_config

    from tasks.common import load_task_yaml

    path = TASKS_DIR / family / (f"{family}.yaml" if split == "id" else f"{family}_{split}.yaml")
    theirs = load_yaml_config(yaml_path=str(path), mode="full")
    ours = load_task_yaml(family, split)
    assert set(theirs) == set(ours) and "include" not in ours
    assert ours["task"] == f"reftbench_{family}_{split}"
    for key, value in ours.items():
        if callable(theirs[key]):  # `!function utils.f`: the same function
            module, _, name = value.rpartition(".")
            assert theirs[key].__name__ == name, key
            bound = inspect.getclosurevars(theirs[key]).nonlocals
            if "family" in bound:  # process_docs: made for this family's split in its utils.py
                assert (bound["family"], bound["split"]) == (family, split), key
            else:  # a shared hook, named by the template: the same file
                assert Path(inspect.getfile(theirs[key])).resolve() == \
                    (TASKS_DIR.parent / module.replace(".", "/")).with_suffix(".py"), key
        elif key == "dataset_kwargs":
            files = theirs[key]["data_files"]
            assert {k: str(Path(v).resolve()) for k, v in files.items()} == \
                ours[key]["data_files"]
        else:
            assert theirs[key] == value, key
