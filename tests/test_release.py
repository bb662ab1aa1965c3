"""The published Curr-ReFT data layout (`grpo_data/`), read as it is (reftbench/data/release.py).

`replica` builds a small copy of the release from what is known of it: stage files nested by
stage under train/ (`*_train`, `*_val` trained on, `*_test` the in-domain tests), out-of-domain
sets under test/ (RefGTA as a JSON array with a box-list solution and its other coordinate
frames, SuperCLEVR with absolute paths from the authors' machine, integer answers and no task),
solutions wrapped in <answer> (stage 3 after <thinking>), and images in images/ under folders
that do not match the rows' paths one to one.
"""

import json
import logging
import shutil
from pathlib import Path

import pytest
from PIL import Image

from reftbench.errors import UserError
from reftbench.prompts import ANSWER_FORMS
from reftbench.data.refdata import BadRow
from reftbench.data.release import ImageRoot, is_release, read_release, release_files, solution_text
from reftbench.scoring.rewards import score

AUTHORS = "/mnt/tenant-home_speed/dhl/data"  # a prefix that exists only on the authors' machine
COCO = f"{AUTHORS}/coco/train2014/COCO_train2014_0000000000{{}}.jpg"
CLEVR = "/mnt/tenant-home_speed/AIM/data/Superclever/images/superCLEVR_new_0250{}.png"

# Image files of the replica, under images/.
IMAGES = [*(f"coco/train2014/COCO_train2014_0000000000{i}.jpg" for i in range(10, 20)),
          "math/geo_1.png", "math/geo_2.png", "refgta/final_resize/refgta_0001.jpg",
          "refgta/final_resize/refgta_0002.jpg", "VOC2012/JPEGImages/2008_000001.jpg",
          "Superclever/images/superCLEVR_new_025000.png",
          "Superclever/images/superCLEVR_new_025001.png"]


def row(problem, solution, image, task=None, **extra):
    found = {"problem": problem, "solution": solution, "image": image, **extra}
    return found if task is None else {**found, "task": task}


BOX_Q = "<image>Please provide the bounding box coordinate of the region this sentence describes: "
CLS_Q = "<image>Which categories of objects appear in this image?"
FILES = {
    "train/judge/judge_math_train.jsonl": [
        row("<image>Is the area of the triangle 12?", "<answer>yes</answer>",
            f"{AUTHORS}/math/geo_1.png", "math")],
    "train/judge/judge_v2_coco_train.jsonl": [
        row(BOX_Q + "the man in red. Is it [1, 1, 20, 20]?", "<answer>correct</answer>",
            COCO.format(10), "detection"),
        row(CLS_Q + " Is it: dog?", "<answer>Incorrect</answer>", COCO.format(11), "classify")],
    "train/judge/judge_v2_coco_val.jsonl": [
        row(CLS_Q + " Is it: cat?", "<answer>true</answer>", COCO.format(12), "classify")],
    "train/choice/choice_detection_coco_train.jsonl": [
        row(BOX_Q + "the dog.\nA. [1, 1, 9, 9]\nB. [4, 4, 20, 20]\nC. [0, 0, 31, 31]",
            "<answer>B</answer>", COCO.format(13), "detection")],
    "train/choice/choice_classify_v2_coco_train.jsonl": [
        row(CLS_Q + "\nA. person\nB. car\nC. dog\nD. cat", "<answer>A, C</answer>",
            COCO.format(14), "classify")],
    "train/choice/math_choice_math_val.jsonl": [
        row("<image>Find the angle.\nChoices:\nA:30°\nB:60°", "<answer>A</answer>",
            f"{AUTHORS}/math/geo_2.png", "math")],
    "train/open/coco_3k_2task/detection_coco_train.jsonl": [
        row(BOX_Q + "the cat.", '<thinking>It is on the left.</thinking><answer>{"bbox_2d": '
            '[2, 3, 18, 20], "label": "cat"}</answer>', COCO.format(15), "detection")],
    "train/open/coco_3k_2task/detection_coco_test.jsonl": [
        row(BOX_Q + "the woman.", "<answer>[5, 5, 25, 28]</answer>", COCO.format(16),
            "detection"),
        row(BOX_Q + "the bus.", '<thinking>t</thinking><answer>{"bbox_2d": [0, 0, 30, 12]}'
            "</answer>", COCO.format(17), "detection")],
    "train/open/coco_3k_2task/classify_v2_coco_train.jsonl": [
        row(CLS_Q, "<thinking>I see two.</thinking><answer>['person', 'dog']</answer>",
            COCO.format(18), "classify")],
    "train/open/coco_3k_2task/classify_v2_coco_test.jsonl": [
        row(CLS_Q, "<answer>['car']</answer>", COCO.format(19), "classify")],
    "train/open/openr1_8k/math_math_train.jsonl": [
        row("<image>What is x?", "<thinking>3 + 4</thinking><answer>7</answer>",
            f"{AUTHORS}/math/geo_1.png", "math")],
    "train/open/openr1_8k/math_math_test.jsonl": [
        # An open math answer that is a letter (a point's name) stays open, from the folder.
        row("<image>Which point is the centre?", "<answer>B</answer>", "math/geo_2.png", "math"),
        row("<image>What is the perimeter?", "<thinking>4 x 3</thinking><answer>12</answer>",
            "math/geo_1.png", "math")],
    "test/Refgta/refgta_subsample_resize.json": [
        row("Please provide the bounding box coordinate of the region this sentence describes: "
            "the man on the left.", [3.0, 4.0, 21.5, 30.0], "final/refgta_0001.jpg",
            normalized_solution=[0.09, 0.12, 0.67, 0.94], resize_solution=[10, 14, 75, 105]),
        row("Please provide the bounding box coordinate of the region this sentence describes: "
            "the car.", [0, 10, 31, 31], "final/refgta_0002.jpg",
            normalized_solution=[0.0, 0.31, 0.97, 0.97], resize_solution=[0, 35, 108, 108])],
    "test/pascal/classify_pascal_voc_test.jsonl": [
        row(CLS_Q, "<answer>['cat', 'sofa']</answer>", "VOC2012/JPEGImages/2008_000001.jpg",
            "classify")],
    "test/superclever/superclevr_test200_counting_problems.jsonl": [
        row("How many different items are there in the image?", 4, CLEVR.format("00")),
        row("How many different items are there in the image?", 9, CLEVR.format("01"))],
}
# id -> (family, split, tier, answer) of every replica row: none may be skipped.
EXPECTED = {
    "train-judge-judge_math_train-1": ("math", "train", "judge", "yes"),
    "train-judge-judge_v2_coco_train-1": ("detection", "train", "judge", "yes"),
    "train-judge-judge_v2_coco_train-2": ("classification", "train", "judge", "no"),
    "train-judge-judge_v2_coco_val-1": ("classification", "train", "judge", "yes"),
    "train-choice-choice_detection_coco_train-1": ("detection", "train", "choice", "B"),
    "train-choice-choice_classify_v2_coco_train-1": ("classification", "train", "choice", "A,C"),
    "train-choice-math_choice_math_val-1": ("math", "train", "choice", "A"),
    "train-open-coco_3k_2task-detection_coco_train-1": ("detection", "train", "open",
                                                        "[2, 3, 18, 20]"),
    "train-open-coco_3k_2task-detection_coco_test-1": ("detection", "id", "open",
                                                       "[5, 5, 25, 28]"),
    "train-open-coco_3k_2task-detection_coco_test-2": ("detection", "id", "open",
                                                       "[0, 0, 30, 12]"),
    "train-open-coco_3k_2task-classify_v2_coco_train-1": ("classification", "train", "open",
                                                          "['person', 'dog']"),
    "train-open-coco_3k_2task-classify_v2_coco_test-1": ("classification", "id", "open",
                                                         "['car']"),
    "train-open-openr1_8k-math_math_train-1": ("math", "train", "open", "7"),
    "train-open-openr1_8k-math_math_test-1": ("math", "id", "open", "B"),
    "train-open-openr1_8k-math_math_test-2": ("math", "id", "open", "12"),
    "test-Refgta-refgta_subsample_resize-1": ("detection", "ood", "open", "[3, 4, 21.5, 30]"),
    "test-Refgta-refgta_subsample_resize-2": ("detection", "ood", "open", "[0, 10, 31, 31]"),
    "test-pascal-classify_pascal_voc_test-1": ("classification", "ood", "open",
                                               "['cat', 'sofa']"),
    "test-superclever-superclevr_test200_counting_problems-1": ("math", "ood", "open", "4"),
    "test-superclever-superclevr_test200_counting_problems-2": ("math", "ood", "open", "9"),
}


def write_release(folder: Path) -> Path:
    for number, name in enumerate(IMAGES):
        path = folder / "images" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.new("RGB", (32, 32), (number * 20 % 256, 90, 160)).save(path)
    for name, rows in FILES.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.suffix == ".json":
            path.write_text(json.dumps(rows, indent=1))
        else:
            path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return folder


@pytest.fixture(scope="module")
def replica(tmp_path_factory):
    return write_release(tmp_path_factory.mktemp("release") / "grpo_data")


def test_every_row_is_read_with_its_split_tier_family_and_answer(replica, caplog):
    with caplog.at_level(logging.WARNING):
        records = {r["id"]: r for r in read_release(replica, strict=True)}
    assert not caplog.records
    assert set(records) == set(EXPECTED)
    for rid, expected in EXPECTED.items():
        r = records[rid]
        assert (r["family"], r["split"], r["tier"], r["answer"]) == expected, rid
        assert Path(r["image_path"]).is_file() and Path(r["image_path"]).is_relative_to(replica)
        assert "<image>" not in r["question"]
        s = score(r, f"<think>x</think><answer>{r['answer']}</answer>")
        assert s["accuracy"] == 1.0, rid
    # Paths from the authors' machine resolve by their trailing components, others by name.
    clevr = records["test-superclever-superclevr_test200_counting_problems-1"]
    assert clevr["image_path"] == str(
        replica / "images/Superclever/images/superCLEVR_new_025000.png")
    refgta = records["test-Refgta-refgta_subsample_resize-1"]
    assert refgta["image_path"] == str(replica / "images/refgta/final_resize/refgta_0001.jpg")
    # The stage-3 JSON gold box scores the same box in either form.
    det = records["train-open-coco_3k_2task-detection_coco_train-1"]
    assert score(det, '<answer>[{"bbox_2d": [2, 3, 18, 20], '
                      '"label": "cat"}]</answer>')["accuracy"] == 1


def test_layout_rules(replica, tmp_path):
    assert is_release(replica)
    assert not is_release(Path(__file__).parent / "fixtures" / "refdata")  # the flat convention
    by_name = {p.name: (split, tier, family) for p, split, tier, family in release_files(replica)}
    assert by_name["refgta_subsample_resize.json"] == ("ood", None, "detection")
    assert by_name["superclevr_test200_counting_problems.jsonl"] == ("ood", None, "math")
    assert by_name["classify_pascal_voc_test.jsonl"] == ("ood", None, "classification")
    assert by_name["math_choice_math_val.jsonl"] == ("train", "choice", "math")
    assert by_name["detection_coco_test.jsonl"] == ("id", "open", "detection")
    assert by_name["judge_v2_coco_train.jsonl"] == ("train", "judge", None)  # task from the rows


def test_eval_reads_every_family_in_and_out_of_domain_and_skips_none(cli, replica, tmp_path,
                                                                      micro, caplog):
    with caplog.at_level(logging.WARNING):
        code, _, err = cli("eval", "--model", "random-micro", "--data", replica,
                           "--image-root", replica / "images", "--results-dir", tmp_path)
    assert code == 0, err
    assert not [r for r in caplog.records if "skipped" in r.getMessage()]
    results = json.loads(
        next((tmp_path / "runs").glob("random-micro@grpo_data-*/results.json")).read_text())
    counts = {}
    for family, split, tier, _ in EXPECTED.values():
        if split != "train" and tier == "open":
            counts[f"{family}/{split}/open"] = counts.get(f"{family}/{split}/open", 0) + 1
    assert {key: m["n"] for key, m in results["metrics"].items()} == counts
    assert len(counts) == 6  # three families, in and out of domain
    assert results["config"]["image_root"] == str((replica / "images").resolve())
    questions = [json.loads(line) for line in
                 next((tmp_path / "runs").glob("random-micro@grpo_data-*/samples.jsonl")).open()]
    assert len(questions) == sum(counts.values())


def test_real_questions_get_the_answer_form(replica):
    from reftbench.data.generated import load_split, task_records
    from reftbench.prompts import FORMAT_INSTRUCTION, prompt_text

    rows = {r["id"]: r for r in task_records("math", "ood", ("open",), data=str(replica))}
    clevr = rows["test-superclever-superclevr_test200_counting_problems-1"]
    assert clevr["question"] == "How many different items are there in the image?"
    assert prompt_text(clevr) == "\n".join([clevr["question"], ANSWER_FORMS["math"],
                                            FORMAT_INSTRUCTION])
    for family, tier, form in (("classification", "judge", "judge"),
                               ("classification", "choice", "choice-many"),
                               ("detection", "choice", "choice"),
                               ("detection", "open", "detection")):
        found = task_records(family, "train", (tier,), data=str(replica))
        assert found and all(ANSWER_FORMS[form] in prompt_text(r) for r in found), (family, tier)
    # Generated questions say it themselves: their prompt is unchanged.
    generated = load_split("math", "id", n=6)[0]
    assert prompt_text(generated) == f"{generated['question']}\n{FORMAT_INSTRUCTION}"


def test_training_reads_the_release(replica):
    from reftbench.config import resolve
    from reftbench.registry import load_trainer
    from reftbench.training.run import check_data
    from reftbench.training.splits import test_samples, train_samples

    plugin = load_trainer("curr-reft")
    cfg = resolve(plugin.config_cls, plugin.presets, "tiny",
                  overrides={"data": str(replica), "replay_synthetic": True})
    train_ids = {k for k, v in EXPECTED.items() if v[1] == "train"}
    assert {r["id"] for r in train_samples(cfg)} == train_ids
    assert {r["tier"] for r in train_samples(cfg)} == {"judge", "choice", "open"}
    assert {r["id"] for r in test_samples(cfg)} == set(EXPECTED) - train_ids
    check_data(cfg)


def test_tiers_without_a_stage_folder_come_from_the_answer(replica):
    from reftbench.data.release import release_record

    images = ImageRoot((replica / "images").resolve())
    judge = release_record(row("Is it a cat?", "<answer>Incorrect.</answer>", "math/geo_1.png",
                               "classify"), "ood", None, None, images, "x-1")
    assert (judge["tier"], judge["answer"], judge["metric"]) == ("judge", "no", "yes_no")
    choice = release_record(row("Which?\nA. 3\nB. 4", "<answer>B</answer>", "math/geo_1.png"),
                            "ood", None, "math", images, "x-2")
    assert (choice["tier"], choice["options"]) == ("choice", ["3", "4"])
    opened = release_record(row("Which point?\nA. 3\nB. 4", "<answer>B</answer>",
                                "math/geo_1.png"), "id", "open", "math", images, "x-3")
    assert (opened["tier"], opened["metric"]) == ("open", "math_equiv")


def test_image_root_never_leaves_its_folder(tmp_path):
    root = tmp_path / "images"
    (root / "a" / "b").mkdir(parents=True)
    (root / "a" / "b" / "x.png").write_bytes(b"png")
    (root / "a" / "dup.png").write_bytes(b"png")
    (root / "b").mkdir()
    (root / "b" / "dup.png").write_bytes(b"png")
    (tmp_path / "secret.png").write_bytes(b"png")
    (root / "link.png").symlink_to(tmp_path / "secret.png")
    (root / "linkdir").symlink_to(tmp_path, target_is_directory=True)
    images = ImageRoot(root.resolve())
    found = str((root / "a" / "b" / "x.png").resolve())
    assert images.find("a/b/x.png") == found
    assert images.find("/home/someone/data/a/b/x.png") == found  # trailing components
    assert images.find("C:\\data\\b\\x.png") == found  # a Windows path: by its tail too
    assert images.find("elsewhere/x.png") == found  # the only file of that name
    for bad, why in (("../secret.png", "leaves"), ("a/../../secret.png", "leaves"),
                     ("link.png", "leaves"), ("linkdir/secret.png", "leaves"),
                     (str(tmp_path / "secret.png"), "is not under"),
                     ("dup.png", "2 files have its name"), ("", "unusable"),
                     ("a\x00.png", "unusable")):
        with pytest.raises(BadRow, match=why):
            images.find(bad)


@pytest.mark.parametrize("solution, family, text", [
    (4, "math", "4"), (2.5, "math", "2.5"), (12.0, "math", "12"),
    ([3.0, 4.0, 21.5, 30.0], "detection", "[3, 4, 21.5, 30]"),
    (["cat", " dog"], "classification", "cat, dog"),
    ("<answer> 7 </answer>", "math", "7"),
    ("<thinking>a <answer>-like remark</thinking><answer>7</answer>", "math", "7"),
    ("<think>x</think><answer>yes</answer>", "math", "yes"),
    ("12", "math", "12"),
    ('<answer>{"bbox": [1, 2, 3, 4], "label": "x"}</answer>', "detection", "[1, 2, 3, 4]"),
    ('<answer>[{"bbox_2d": [1, 2, 3, 4]}]</answer>', "detection", "[1, 2, 3, 4]"),
])
def test_solution_forms(solution, family, text):
    assert solution_text(solution, family) == text


@pytest.mark.parametrize("solution", [True, None, {"a": 1}, [1, 2, 3], [], float("nan"),
                                      "<answer>1</answer><answer>2</answer>", "<answer></answer>",
                                      "<answer>7", "  "])
def test_unusable_solutions(solution):
    with pytest.raises(BadRow):
        solution_text(solution, "math")


def test_a_json_gold_with_two_boxes_is_refused():
    with pytest.raises(BadRow, match="exactly one box"):
        solution_text('<answer>{"a": [1, 2, 3, 4], "b": [5, 6, 7, 8]}</answer>', "detection")


def test_bad_rows_are_named_and_counted(replica, tmp_path, caplog):
    folder = Path(shutil.copytree(replica, tmp_path / "grpo_data"))
    path = folder / "test/other/unknown_test.jsonl"
    path.parent.mkdir()
    path.write_text(json.dumps(row("How many?", 3, "math/geo_1.png")) + "\nnot json\n"
                    + json.dumps(row("How many?", 3, "../outside.png", "math")) + "\n")
    (folder / "stray.jsonl").write_text("{}\n")
    with caplog.at_level(logging.WARNING):
        records = read_release(folder)
    assert len(records) == len(EXPECTED)
    messages = [r.getMessage() for r in caplog.records]
    assert any("stray.jsonl: not read" in m for m in messages)
    assert any("unknown_test.jsonl:1: no task field" in m for m in messages)
    assert any("unknown_test.jsonl:2: not valid JSON" in m for m in messages)
    assert any("unknown_test.jsonl:3: image path '../outside.png' leaves" in m for m in messages)
    assert messages[-1].endswith("skipped 3 malformed row(s); --strict stops at the first instead")
    with pytest.raises(UserError, match="stray.jsonl: not read"):
        read_release(folder, strict=True)
    (folder / "stray.jsonl").unlink()
    with pytest.raises(UserError, match="unknown_test.jsonl:1: no task field"):
        read_release(folder, strict=True)


def test_image_root_errors(cli, replica, tmp_path):
    code, _, err = cli("eval", "--model", "random-micro", "--data", replica, "--image-root",
                       tmp_path / "nope", "--results-dir", tmp_path)
    assert code == 2 and "image root" in err and "does not exist" in err
    flat = Path(__file__).parent / "fixtures" / "refdata"
    code, _, err = cli("eval", "--model", "random-micro", "--data", flat, "--image-root", replica,
                       "--results-dir", tmp_path)
    assert code == 2 and "release layout" in err


def test_the_release_reader_has_the_same_row_and_image_checks(replica, tmp_path, caplog):
    """A byte-order mark is read past; a lone surrogate, an empty or corrupt image are skipped
    with their reason (the checks `reftbench/data/refdata.py` makes of its own layout)."""
    folder = Path(shutil.copytree(replica, tmp_path / "grpo_data"))
    (folder / "images/math/empty.png").write_bytes(b"")
    (folder / "images/math/broken.png").write_bytes(b"\x89PNG\r\n\x1a\nnot a png")
    path = folder / "test/math/extra_math_test.jsonl"
    path.parent.mkdir(parents=True)
    rows = [row("How many?", "<answer>3</answer>", "math/geo_1.png", "math"),
            row("How many \ud800?", "<answer>3</answer>", "math/geo_1.png", "math"),
            row("How many?", "<answer>3</answer>", "math/empty.png", "math"),
            row("How many?", "<answer>3</answer>", "math/broken.png", "math")]
    path.write_bytes(b"\xef\xbb\xbf" + "".join(json.dumps(r) + "\n" for r in rows).encode())
    with caplog.at_level(logging.WARNING):
        records = read_release(folder)
    assert len(records) == len(EXPECTED) + 1  # the first row, after the byte-order mark
    messages = [r.getMessage() for r in caplog.records]
    assert any("extra_math_test.jsonl:2: field question holds" in m and "lone surrogate" in m
               for m in messages)
    assert any("extra_math_test.jsonl:3: image empty.png is empty" in m for m in messages)
    assert any("extra_math_test.jsonl:4: image broken.png is corrupt" in m for m in messages)


def test_sft_targets_keep_the_releases_own_reasoning(replica):
    from reftbench.data.release import solution_reasoning
    from reftbench.training.datasets import target_completion

    records = read_release(replica)
    maths = next(r for r in records if r["question"] == "What is x?")
    assert maths["think"] == "3 + 4"
    assert target_completion(maths) == "<think>3 + 4</think><answer>7</answer>"
    assert solution_reasoning("<answer>7</answer>") == ""
    assert solution_reasoning("<thinking> a\n  b </thinking><answer>7</answer>") == "a b"
    assert solution_reasoning("<think>x " * 1000 + "</think>") == ""  # its tags inside: dropped
    assert len(solution_reasoning("<think>" + "word " * 1000 + "</think>")) <= 2000


def test_test_rows_read_as_judge_questions_are_counted_aloud(replica, tmp_path, caplog):
    folder = tmp_path / "grpo_data"
    shutil.copytree(replica, folder)
    pascal = folder / "test" / "pascal" / "classify_pascal_voc_test.jsonl"
    row = json.loads(pascal.read_text().splitlines()[0])
    with pascal.open("a") as fh:
        fh.write(json.dumps(dict(row, problem="<image>Is there a cat?",
                                 solution="<answer>yes</answer>")) + "\n")
    with caplog.at_level(logging.WARNING):
        records = read_release(folder)
    assert sum(r["tier"] == "judge" and r["split"] == "ood" for r in records) == 1
    said = [r.getMessage() for r in caplog.records]
    assert any("classify_pascal_voc_test.jsonl: 1 row(s) answered like judge questions" in m
               and "--tiers judge" in m for m in said), said


def test_a_json_file_with_a_byte_order_mark_is_read(replica, tmp_path):
    folder = Path(shutil.copytree(replica, tmp_path / "grpo_data"))
    path = folder / "test/Refgta/refgta_subsample_resize.json"
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    assert len(read_release(folder, strict=True)) == len(EXPECTED)


def test_a_search_by_name_stays_in_its_root_and_stops_early(tmp_path, monkeypatch):
    import reftbench.data.release as release

    root = tmp_path / "images"
    for i in range(30):
        (root / f"d{i:02d}").mkdir(parents=True)
        (root / f"d{i:02d}" / f"{i}.png").write_bytes(b"png")
    (root / "d00" / "sub").mkdir()
    monkeypatch.setattr(release, "MAX_INDEXED", 10)
    images = ImageRoot(root.resolve())
    with pytest.raises(BadRow, match="among the first 10 files only.*narrower --image-root"):
        images.find("elsewhere/nope.png")
    assert sum(len(v) for v in images._names().values()) < 30  # it stopped
    assert images.find("x/3.png").endswith("d03/3.png")  # found before the stop
    with pytest.raises(BadRow, match="'d00/sub' is a folder, not a file"):
        images.find("d00/sub")
