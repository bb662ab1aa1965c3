"""The generated task families (every one in the task registry): determinism, schema, tiers,
answers, domains, YAML."""

import hashlib
import importlib
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from reftbench.errors import UserError
from reftbench.samples import FAMILIES, LETTERS, REQUIRED_FIELDS, SPLITS, TIERS
from tasks import FAMILIES as TASK_FAMILIES
from tasks import family_module, open_metrics
from tasks.common import load_task_yaml, scene_rng, split_hash, write_split
from tasks.draw import box_iou

ROOT = Path(__file__).resolve().parents[1]
SCENES = 40
TIER_METRIC = {"judge": "yes_no", "choice": "letters"}


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """Every family and split, SCENES scenes each, laid out <root>/<family>/<split>/."""
    root = tmp_path_factory.mktemp("data")
    for family in FAMILIES:
        for split in SPLITS:
            write_split(family, split, SCENES, 0, root / family / split)
    return root


def records(data, family, split):
    with open(data / family / split / "samples.jsonl") as fh:
        return [json.loads(line) for line in fh]


def scenes(family, split, n):
    """(scene, tiers) pairs straight from the generator, as write_split draws them."""
    module = family_module(family)
    for index in range(n):
        rng = scene_rng(0, family, split, index)
        _, scene = module.make_scene(split, index, rng)
        yield scene, module.make_tiers(scene, rng)


def by_tier(rows):
    return {(r["base_id"], r["tier"]): r for r in rows}


def test_family_registry_has_the_benchmark_families_and_imports_nothing_heavy():
    assert set(FAMILIES) < set(TASK_FAMILIES) and not TASK_FAMILIES["general"].benchmark
    code = ("import sys, tasks; heavy = {'PIL', 'numpy', 'torch', 'yaml'} & set(sys.modules); "
            "assert not heavy, heavy")
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True)


@pytest.mark.parametrize("family", FAMILIES)
def test_same_seed_same_bytes_other_seed_differs(family, tmp_path):
    first = split_hash(write_split(family, "ood", 12, 7, tmp_path / "a"))
    again = split_hash(write_split(family, "ood", 12, 7, tmp_path / "b"))
    other = split_hash(write_split(family, "ood", 12, 8, tmp_path / "c"))
    assert first == again != other


def test_parallel_generation_writes_the_same_bytes_as_one_process(tmp_path):
    # Chunks of 4 on two processes: scenes from different workers, lines joined in order.
    alone = split_hash(write_split("detection", "id", 10, 3, tmp_path / "a", workers=1))
    parallel = split_hash(write_split("detection", "id", 10, 3, tmp_path / "b", workers=2,
                                      chunk=4))
    assert alone == parallel
    lines = (tmp_path / "b" / "samples.jsonl").read_text().splitlines()
    assert [json.loads(line)["base_id"][-2:] for line in lines[::3]] == [
        f"{i:02d}" for i in range(10)]


def test_rewriting_a_split_replaces_it_and_leaves_no_temp_folders(tmp_path):
    out = tmp_path / "math" / "id"
    write_split("math", "id", 5, 0, out)
    write_split("math", "id", 3, 0, out)
    assert len(records(tmp_path, "math", "id")) == 9
    assert len(list((out / "images").iterdir())) == 3
    assert [p.name for p in out.parent.iterdir()] == ["id"]


def dead_pid() -> int:
    """The pid of a process that has ended."""
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


def test_a_killed_generation_is_picked_up_where_it_stopped(tmp_path, monkeypatch):
    import tasks.common as common

    whole = split_hash(write_split("math", "id", 6, 0, tmp_path / "whole", workers=1, chunk=2))
    out = tmp_path / "math" / "id"
    real, made = common._write_scenes, []

    def killed_after_one_chunk(job):
        if made:
            raise KeyboardInterrupt
        made.append(job[3])
        real(job)

    monkeypatch.setattr(common, "_write_scenes", killed_after_one_chunk)
    with pytest.raises(KeyboardInterrupt):
        write_split("math", "id", 6, 0, out, workers=1, chunk=2)
    # What a kill -9 leaves: the folder of a process that no longer runs, one part finished,
    # beside another killed run's folder for other scenes and an old copy being replaced.
    gone = dead_pid()
    (out.parent / f".id.tmp-{os.getpid()}").rename(out.parent / f".id.tmp-{gone}")
    (out.parent / f".id.tmp-{gone + 1}").mkdir()
    (out.parent / f".id.old-{gone}").mkdir()
    made.clear()
    monkeypatch.setattr(common, "_write_scenes", lambda job: made.append(job[3]) or real(job))
    write_split("math", "id", 6, 0, out, workers=1, chunk=2)
    assert made == [2, 4]  # the finished chunk was not made again
    assert split_hash(out) == whole
    assert [p.name for p in out.parent.iterdir()] == ["id"]


def test_a_killed_runs_copy_of_a_split_finished_since_is_removed(tmp_path, monkeypatch):
    from reftbench.data.generated import ensure_split

    monkeypatch.setenv("REFTBENCH_HOME", str(tmp_path))
    out = ensure_split("math", "id", 3, 0)
    stale, alive = out.parent / f".{out.name}.tmp-{dead_pid()}", out.parent / f".{out.name}.tmp-1"
    stale.mkdir()
    alive.mkdir()  # pid 1 runs: its folder is its own
    assert ensure_split("math", "id", 3, 0) == out
    assert not stale.exists() and alive.exists()


def test_unknown_family_or_split_is_a_user_error(tmp_path):
    with pytest.raises(UserError, match="unknown task family 'detect'"):
        write_split("detect", "id", 1, 0, tmp_path / "x")
    with pytest.raises(UserError, match="unknown split 'test'"):
        write_split("math", "test", 1, 0, tmp_path / "x")


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("split", SPLITS)
def test_records_follow_the_schema(data, family, split):
    rows = records(data, family, split)
    assert len(rows) == 3 * SCENES
    for i, row in enumerate(rows):
        index, tier = i // 3, TIERS[i % 3]
        assert all(field in row for field in REQUIRED_FIELDS)
        assert row["base_id"] == f"{family}-{split}-{index:06d}"
        assert row["id"] == f"{row['base_id']}-{tier}"
        assert (row["family"], row["split"], row["tier"]) == (family, split, tier)
        assert row["image"] == f"images/{index:06d}.png"
        # The generator writes the open metric the registry names for real-data rows.
        assert row["metric"] == TIER_METRIC.get(tier, open_metrics()[family])
        assert ("options" in row) == (tier == "choice")
        assert row["question"] and row["answer"]
    # A family's analysis fields (its scene's "extras": a box, labels, a question kind).
    scene, _ = next(scenes(family, split, 1))
    assert scene["extras"] and all(set(scene["extras"]) <= set(row) for row in rows[:3])
    with Image.open(data / family / split / rows[0]["image"]) as img:
        assert (img.mode, img.size) == ("RGB", (112, 112))


@pytest.mark.parametrize("family", FAMILIES)
def test_judge_answers_are_balanced(family):
    answers = [tiers["judge"]["answer"] for _, tiers in scenes(family, "id", 200)]
    assert set(answers) == {"yes", "no"}
    assert abs(answers.count("yes") / len(answers) - 0.5) < 0.12


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("split", SPLITS)
def test_choice_letters_point_at_the_right_options(data, family, split):
    rows = by_tier(records(data, family, split))
    for (base_id, tier), row in rows.items():
        if tier != "choice":
            continue
        options, letters = row["options"], row["answer"].split(",")
        assert len(options) == 5 and len(set(options)) == 5
        assert letters == sorted(set(letters)) and set(letters) <= set(LETTERS[:5])
        for letter, text in zip(LETTERS, options):
            assert f"\n{letter}. {text}\n" in row["question"]
        chosen = [options[LETTERS.index(x)] for x in letters]
        gold = rows[(base_id, "open")]
        if family == "classification":
            assert sorted(chosen) == row["labels"] == gold["answer"].split(", ")
            assert "Select all that apply" in row["question"]
        else:
            assert chosen == [gold["answer"]]


@pytest.mark.parametrize("split", SPLITS)
def test_detection_expression_names_one_object_whose_box_is_the_answer(split):
    for scene, tiers in scenes("detection", split, 150):
        words = scene["expression"].split()[1:]
        matching = [o for o in scene["objects"]
                    if all(w in (o["shape"], o["colour"], o["size"]) for w in words)]
        assert matching == [scene["objects"][scene["target"]]]
        x1, y1, x2, y2 = box = scene["box"]
        assert 0 <= x1 < x2 <= 111 and 0 <= y1 < y2 <= 111
        assert tiers["open"]["answer"] == str(box)


def _numbers(text):
    return [int(v) for v in re.findall(r"\d+", text)]


@pytest.mark.parametrize("family", FAMILIES)
def test_wrong_proposals_are_plausible_but_wrong(family):
    for scene, tiers in scenes(family, "id", 120):
        judge, choice = tiers["judge"], tiers["choice"]
        if family == "detection":
            proposal = _numbers(judge["question"].split("]")[0])
            assert (box_iou(proposal, scene["box"]) < 0.3) == (judge["answer"] == "no")
            wrong = [o for o in choice["options"] if o != scene["answer"]]
            assert all(box_iou(json.loads(o), scene["box"]) < 0.3 for o in wrong)
        elif family == "classification":
            proposal = judge["question"].split(": ")[1].rstrip("?").split(", ")
            assert (proposal == scene["labels"]) == (judge["answer"] == "yes")
            assert len(set(proposal) ^ set(scene["labels"])) <= 2
        else:
            proposal = _numbers(judge["question"].rsplit("Is the answer", 1)[1])[0]
            gap = abs(proposal - int(scene["answer"]))
            assert gap == 0 if judge["answer"] == "yes" else gap in (1, 2)


@pytest.mark.parametrize("family", FAMILIES)
def test_gold_answers_score_full_marks(data, family):
    rewards = pytest.importorskip("reftbench.scoring.rewards")
    for split in SPLITS:
        for row in records(data, family, split):
            scores = rewards.score(row, f"<think>x</think><answer>{row['answer']}</answer>")
            assert scores["accuracy"] == 1.0, row["id"]


def _image_digests(folder):
    return {hashlib.sha256(p.read_bytes()).hexdigest() for p in (folder / "images").glob("*.png")}


@pytest.mark.parametrize("family", FAMILIES)
def test_train_and_test_images_never_coincide(data, family):
    train = _image_digests(data / family / "train")
    assert len(train) == SCENES
    for split in ("id", "ood"):
        assert not train & _image_digests(data / family / split)


def _roughness(folder):
    """Mean absolute difference of horizontally adjacent pixels: grain and texture raise it."""
    values = []
    for path in sorted((folder / "images").glob("*.png")):
        pixels = np.asarray(Image.open(path).convert("L"), float)
        values.append(np.abs(np.diff(pixels, axis=1)).mean())
    return float(np.mean(values))


@pytest.mark.parametrize("family", FAMILIES)
def test_out_of_domain_images_look_different(data, family):
    in_domain = _roughness(data / family / "id")
    assert _roughness(data / family / "ood") > 2 * in_domain
    assert abs(_roughness(data / family / "train") - in_domain) < 0.5 * in_domain


def function(name: str):
    """The function a task YAML's `!function` names (as load_task_yaml spells it)."""
    module, _, attr = name.rpartition(".")
    return getattr(importlib.import_module(module), attr)


@pytest.mark.parametrize("family", FAMILIES)
def test_task_yaml_loads_with_lmms_eval_keys(family):
    config = load_task_yaml(family)
    assert config["task"] == f"reftbench_{family}_id"
    assert config["tag"] == ["reftbench_all", f"reftbench_{family}"]
    assert config["dataset_path"] == "json" and config["output_type"] == "generate_until"
    # The placeholder lmms-eval loads (the template names it) before process_docs swaps it.
    assert Path(config["dataset_kwargs"]["data_files"]["test"]).is_file()
    assert config["test_split"] == "test"
    assert config["doc_to_target"] == "answer" and config["reasoning_tags"] == "none"
    for key in ("doc_to_visual", "doc_to_text", "process_results"):
        assert config[key] == f"tasks.lmms_utils.{key}" and callable(function(config[key]))
    assert config["process_docs"] == f"tasks.{family}.utils.id_docs"
    assert function(config["process_docs"]).__name__ == "id_docs"
    metrics = {m["metric"]: m for m in config["metric_list"]}
    assert set(metrics) == {"accuracy", "format", "reward", "iou"}
    assert all(m["aggregation"] == "mean" and m["higher_is_better"] for m in metrics.values())
    assert config["generation_kwargs"] == {"max_new_tokens": 64, "do_sample": False, "until": []}
    meta = config["metadata"]
    assert meta["splits"] == list(SPLITS)
    assert meta["tiers"] == list(TIERS) and meta["image_size"] == 112
    assert meta["sizes"] == {"train": 3000, "id": 1000, "ood": 1000}
    ood = load_task_yaml(family, "ood")
    assert ood["task"] == f"reftbench_{family}_ood"
    assert ood["process_docs"] == f"tasks.{family}.utils.ood_docs"
    assert {k: v for k, v in ood.items() if k not in ("task", "process_docs")} == {
        k: v for k, v in config.items() if k not in ("task", "process_docs")}


def test_family_yamls_hold_only_what_differs():
    # Everything shared is in the template: a family's YAML names its task, tags and docs.
    for family in FAMILIES:
        text = (ROOT / "tasks" / family / f"{family}.yaml").read_text()
        keys = [line.split(":")[0] for line in text.splitlines() if re.match(r"^\w+:", line)]
        assert keys == ["include", "task", "tag", "process_docs"], (family, keys)


def test_lmms_process_docs_swap_in_the_generated_split(monkeypatch, tmp_path):
    from reftbench.data.generated import load_split
    from tasks.lmms_utils import sample
    from tasks.math import utils

    monkeypatch.setenv("REFTBENCH_HOME", str(tmp_path))
    monkeypatch.setenv("REFTBENCH_LMMS_SCENES", "4")
    docs = utils.ood_docs(placeholder=None)
    records = load_split("math", "ood", n=4, tiers=("open",))
    assert [d["id"] for d in docs] == [r["id"] for r in records]
    assert docs[0]["image_path"] == records[0]["image_path"]
    monkeypatch.setenv("REFTBENCH_LMMS_TIERS", "judge,choice")
    docs = list(utils.ood_docs(placeholder=None))
    assert [d["tier"] for d in docs[:2]] == ["judge", "choice"] and len(docs) == 8
    # A doc gives back its sample: options only where the record has them.
    choice = load_split("math", "ood", n=4, tiers=("choice",))[0]
    assert "options" not in sample(docs[0]) and sample(docs[1])["options"] == choice["options"]
    for name, value in (("REFTBENCH_LMMS_SCENES", "0"), ("REFTBENCH_LMMS_SEED", "x"),
                        ("REFTBENCH_LMMS_TIERS", "opne")):
        monkeypatch.setenv(name, value)
        with pytest.raises(UserError, match="REFTBENCH_LMMS_SCENES|REFTBENCH_LMMS_SEED|opne"):
            utils.id_docs(placeholder=None)
        monkeypatch.delenv(name)


def test_lmms_eval_hooks_read_images_and_score(data, monkeypatch):
    from tasks import lmms_utils as utils

    row = records(data, "detection", "id")[2]
    monkeypatch.setenv("REFTBENCH_DATA_DIR", str(data))
    (by_layout,) = utils.doc_to_visual(row)
    absolute = str(data / "detection" / "id" / row["image"])
    (by_path,) = utils.doc_to_visual({**row, "image_path": absolute})
    assert by_layout.size == (112, 112) and by_layout.tobytes() == by_path.tobytes()
    assert utils.doc_to_text(row).startswith(row["question"])
    monkeypatch.setenv("REFTBENCH_DATA_DIR", str(data / "nowhere"))
    with pytest.raises(UserError, match="REFTBENCH_DATA_DIR"):
        utils.doc_to_visual(row)
    pytest.importorskip("reftbench.scoring.rewards")
    scores = utils.process_results(row, [f"<think>x</think><answer>{row['answer']}</answer>"])
    assert scores["accuracy"] == 1.0 and scores["format"] == 1.0 and scores["iou"] == 1.0
    assert all(isinstance(v, float) for v in scores.values())
