"""Real data (`--data DIR`): Curr-ReFT JSONL and `datasets` folders read as reftbench records.

The fixture folder tests/fixtures/refdata holds train.jsonl (every task x tier, all good),
id.jsonl (good rows and one bad row of each kind) and ood.jsonl, with 32x32 PNGs in images/.
Tests that look at warnings read a copy of it: a folder is read (and warns) once per process.
"""

import json
import logging
import shutil
from pathlib import Path

import pytest

from reftbench.errors import UserError
from reftbench.data.refdata import BadRow, ImageChecks, infer_tier, parse_options, read_folder
from reftbench.scoring.rewards import score

FIXTURE = Path(__file__).parent / "fixtures" / "refdata"

# id -> (family, split, tier, metric, answer, options) of every good fixture row.
EXPECTED = {
    "train-1": ("detection", "train", "judge", "yes_no", "yes", None),
    "train-2": ("detection", "train", "choice", "letters", "A",
                ["[3, 3, 15, 15]", "[16, 16, 30, 30]", "[0, 0, 8, 8]"]),
    "train-3": ("detection", "train", "open", "box_iou", "[4, 4, 16, 16]", None),
    "train-4": ("classification", "train", "judge", "yes_no", "no", None),
    "train-5": ("classification", "train", "choice", "letters", "B,C",
                ["triangle", "square", "circle", "star"]),
    "train-6": ("classification", "train", "open", "label_set_iou", "square, circle", None),
    "train-7": ("math", "train", "judge", "yes_no", "yes", None),
    "train-8": ("math", "train", "choice", "letters", "B", ["3", "4", "5", "6"]),
    "train-9": ("math", "train", "open", "math_equiv", "0.5", None),
    "id-1": ("detection", "id", "open", "box_iou", "[5, 5, 17, 17]", None),
    "id-3": ("classification", "id", "open", "label_set_iou", "circle, square", None),
    "id-5": ("math", "id", "open", "math_equiv", "2", None),
    "id-9": ("detection", "id", "judge", "yes_no", "no", None),
    "id-10": ("classification", "id", "choice", "letters", "A,C", ["circle", "triangle", "square"]),
    "ood-1": ("detection", "ood", "open", "box_iou", "[8, 8, 20, 20]", None),
    "ood-2": ("classification", "ood", "open", "label_set_iou", "square, circle", None),
    "ood-3": ("math", "ood", "open", "math_equiv", "2", None),
    "ood-4": ("math", "ood", "judge", "yes_no", "yes", None),
}
# id.jsonl line -> what the warning must say.
BAD_LINES = {2: "not valid JSON", 4: "'../outside.png' leaves the data folder",
             6: "'images/nope.png' does not exist", 7: "unknown task 'segmentation'",
             8: "'the left one' is not a box", 11: "letter beyond the 2 options",
             12: "'/etc/hostname' leaves the data folder", 13: "missing field(s) solution"}


@pytest.fixture
def copy(tmp_path):
    """A private copy of the fixture folder (read fresh, so it warns again)."""
    return Path(shutil.copytree(FIXTURE, tmp_path / "refdata"))


def by_id(folder, **kw):
    return {r["id"]: r for r in read_folder(folder, **kw)}


def write_jsonl(path: Path, rows) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows))
    return path


def test_tiers_metrics_and_answers_are_inferred():
    records = by_id(FIXTURE)
    assert set(records) == set(EXPECTED)
    for rid, (family, split, tier, metric, answer, options) in EXPECTED.items():
        r = records[rid]
        assert (r["family"], r["split"], r["tier"], r["metric"], r["answer"], r.get("options")) \
            == (family, split, tier, metric, answer, options), rid
        assert r["base_id"] == rid and "<image>" not in r["question"]
        assert Path(r["image_path"]).is_absolute() and Path(r["image_path"]).is_file()
        assert Path(r["image_path"]) == (FIXTURE / r["image"]).resolve()
    assert records["train-8"]["question"].startswith("How many sides")
    assert records["id-10"]["question"].endswith("Answer with the letters.")


def test_every_good_row_scores_one_with_its_own_answer():
    for r in read_folder(FIXTURE):
        s = score(r, f"<think>x</think><answer>{r['answer']}</answer>")
        assert (s["format"], s["accuracy"]) == (1.0, 1.0), r["id"]


def test_bad_rows_are_skipped_with_file_and_line(copy, caplog):
    with caplog.at_level(logging.WARNING, logger="reftbench.data.refdata"):
        records = read_folder(copy)
    assert {r["id"] for r in records} == set(EXPECTED)
    messages = [rec.getMessage() for rec in caplog.records]
    for line, reason in BAD_LINES.items():
        hits = [m for m in messages if f"id.jsonl:{line}: " in m]
        assert len(hits) == 1 and reason in hits[0], (line, hits)
    assert messages[-1] == (
        f"{copy}: skipped 8 malformed row(s); --strict stops at the first instead")
    caplog.clear()
    read_folder(copy)  # cached: read and reported once
    assert not caplog.records


def test_strict_stops_at_the_first_bad_row(copy):
    with pytest.raises(UserError) as info:
        read_folder(copy, strict=True)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(f"{copy / 'id.jsonl'}:2: not valid JSON")


def test_strict_eval_fails_with_one_line_before_loading_a_model(cli, tmp_path):
    code, _, err = cli("eval", "--model", tmp_path / "no-model-here", "--data", FIXTURE,
                       "--strict", "--results-dir", tmp_path / "r")
    assert code == 2 and "Traceback" not in err and err.count("\n") == 1, err
    assert err.startswith("error: ") and "id.jsonl:2: not valid JSON" in err


def test_image_paths_must_stay_inside_the_folder(tmp_path):
    (tmp_path / "data" / "img").mkdir(parents=True)
    (tmp_path / "data" / "img" / "a.png").write_bytes(b"png")
    (tmp_path / "outside.png").write_bytes(b"png")
    (tmp_path / "data" / "link.png").symlink_to(tmp_path / "outside.png")
    folder = tmp_path / "data"
    assert ImageChecks(folder).path("img/a.png") == str((folder / "img" / "a.png").resolve())
    assert ImageChecks(folder).path(str((folder / "img" / "a.png").resolve()))  # absolute, inside
    for bad in ("../outside.png", "img/../../outside.png", str(tmp_path / "outside.png"),
                "link.png", "img", "a\x00.png"):
        with pytest.raises(BadRow):
            ImageChecks(folder).path(bad)


def test_options_and_letter_answers():
    assert (parse_options("Q?\nA. red\nB. blue\nC. green\nAnswer with a letter.")
            == ["red", "blue", "green"])
    assert parse_options("Q? (A) cat (B) dog (C) cow") == ["cat", "dog", "cow"]
    assert parse_options("Choices:\nA:30°\nB:60°") == ["30°", "60°"]
    assert parse_options("In picture A. the cat sits. Which?\nA) x\nB) y") == ["x", "y"]
    assert parse_options("E.g. the cat. A. one") == []
    choice = infer_tier("classification", "Which?\nA. a\nB. b\nC. c", "(C), A.")
    assert ((choice["tier"], choice["answer"], choice["options"])
            == ("choice", "A,C", ["a", "b", "c"]))
    assert infer_tier("math", "Which segment is longest?", "AB")["tier"] == "open"
    assert infer_tier("math", "Solve for a.", "a")["metric"] == "math_equiv"
    assert infer_tier("detection", "Correct?", "TRUE")["answer"] == "yes"
    with pytest.raises(BadRow, match="lists no options"):
        infer_tier("math", "How many?", "B")


def test_the_references_judge_and_choice_forms_are_never_open_maths():
    """correct/incorrect, a lower-case letter, more than five options: each used to be kept as
    an open maths question with gold "correct" or "b" (issue 37)."""
    for word, verdict in (("correct", "yes"), ("Incorrect.", "no")):
        judge = infer_tier("math", "Is the sum 7?", word)
        assert (judge["tier"], judge["answer"], judge["metric"]) == ("judge", verdict, "yes_no")
    choice = infer_tier("math", "How many?\nA. 1\nB. 2\nC. 3", "b")
    assert (choice["tier"], choice["answer"]) == ("choice", "B")
    six = infer_tier("math", "How many? A. 1 B. 2 C. 3 D. 4 E. 5 F. 6", "F")
    assert (six["tier"], six["options"]) == ("choice", ["1", "2", "3", "4", "5", "6"])
    nine = "How many? A. 1 B. 2 C. 3 D. 4 E. 5 F. 6 G. 7 H. 8 I. 9"
    for answer in ("B", "I"):  # never "8 I. 9" as option H's text, never gold "I"
        with pytest.raises(BadRow, match="lists 9 options; at most 8 .A to H. are scored"):
            infer_tier("math", nine, answer)
    assert infer_tier("math", "Solve for a.", "a")["tier"] == "open"  # no options: a variable
    assert infer_tier("math", "Which numeral is five?", "V")["tier"] == "open"


def test_a_long_answer_and_a_folder_image_say_so(tmp_path):
    from reftbench.data.refdata import convert_row

    (tmp_path / "images" / "sub").mkdir(parents=True)
    row = {"problem": "How many?", "solution": f"<answer>{'1' * 5000}</answer>",
           "task": "math", "image": "images/sub"}
    with pytest.raises(BadRow, match="answer is 5,000 characters long; at most 4,096"):
        convert_row(row, "id", "id-1", ImageChecks(tmp_path))
    with pytest.raises(BadRow, match="image 'images/sub' is a folder, not a file"):
        convert_row(dict(row, solution="<answer>3</answer>"), "id", "id-1",
                    ImageChecks(tmp_path))


def test_split_files_and_folders(tmp_path, caplog):
    good = {"problem": "<image>How many?", "solution": "<answer>3</answer>", "task": "math",
            "image": "i.png"}
    shutil.copy(FIXTURE / "images" / "0.png", tmp_path / "i.png")
    write_jsonl(tmp_path / "train" / "geo.jsonl", [good, dict(good, problem="Count them.")])
    write_jsonl(tmp_path / "test.jsonl", [dict(good, problem="How many shapes?")])
    write_jsonl(tmp_path / "notes.jsonl", [good])
    (tmp_path / "ood.jsonl").write_bytes(b"\xff\xfe{}\n")
    with caplog.at_level(logging.WARNING, logger="reftbench.data.refdata"):
        records = by_id(tmp_path)
    assert {k: r["split"] for k, r in records.items()} == \
        {"train-geo-1": "train", "train-geo-2": "train", "test-1": "id"}
    messages = [rec.getMessage() for rec in caplog.records]
    assert any("notes.jsonl: not read" in m for m in messages)
    assert any("ood.jsonl:1: not UTF-8 text" in m for m in messages)
    with pytest.raises(UserError, match="notes.jsonl: not read"):
        read_folder(tmp_path, strict=True)
    with pytest.raises(UserError, match="has no train.jsonl"):
        read_folder(tmp_path / "train")
    with pytest.raises(UserError, match="does not exist"):
        read_folder(tmp_path / "missing")


def test_load_from_disk_folder_round_trip(tmp_path, caplog):
    from datasets import Dataset, DatasetDict

    records = read_folder(FIXTURE)
    folder = tmp_path / "ds"
    shutil.copytree(FIXTURE / "images", folder / "images")
    # Every row names every column (from_list takes the columns from the first row).
    rows = [{"options": None, **{k: v for k, v in r.items() if k != "image_path"}} for r in records]
    bad = dict(rows[0], id="escapes", image="../x.png")
    parts = {split: Dataset.from_list([r for r in rows if r["split"] == split])
             for split in ("train", "id", "ood")}
    parts["ood"] = parts["ood"].add_item(bad)
    DatasetDict(parts).save_to_disk(str(folder))
    with caplog.at_level(logging.WARNING, logger="reftbench.data.refdata"):
        loaded = by_id(folder)
    assert set(loaded) == {r["id"] for r in records}
    for r in records:
        assert loaded[r["id"]] == {**r, "image_path": str((folder / r["image"]).resolve())}
    assert any("'ood', row 4): image path '../x.png' leaves" in rec.getMessage()
               for rec in caplog.records)


def test_eval_cli_end_to_end(cli, tmp_path, micro):
    code, out, err = cli("eval", "--model", "random-micro", "--data", FIXTURE, "--limit", 2,
                         "--tiers", "judge,choice,open", "--results-dir", tmp_path)
    assert code == 0, err
    results = json.loads(
        next((tmp_path / "runs").glob("random-micro@refdata-*/results.json")).read_text())
    expected = {f"{f}/{s}/{t}" for f, s, t, *_ in EXPECTED.values() if s != "train"}
    assert set(results["metrics"]) == expected
    assert {m["n"] for m in results["metrics"].values()} == {1}
    assert results["label"] == "random-micro@refdata" and results["config"]["data"] == str(FIXTURE)


def test_training_reads_the_folder(tmp_path):
    from reftbench.config import resolve
    from reftbench.registry import load_trainer
    from reftbench.training.run import check_data
    from reftbench.training.splits import test_samples, train_samples

    plugin = load_trainer("curr-reft")
    cfg = resolve(plugin.config_cls, plugin.presets, "tiny",
                  overrides={"data": str(FIXTURE), "replay_ratio": 0})
    train_ids = [k for k, v in EXPECTED.items() if v[1] == "train"]
    assert sorted(r["id"] for r in train_samples(cfg)) == sorted(train_ids)
    assert ([r["id"] for r in train_samples(cfg, tiers=("open",))]
            == ["train-3", "train-6", "train-9"])
    assert {r["id"] for r in test_samples(cfg)} == set(EXPECTED) - set(train_ids)
    check_data(cfg)  # no training row is a test row

    # A training row that is also a test row (same image and question) stops the run.
    row = {"problem": "<image>How many?", "solution": "<answer>2</answer>", "task": "math",
           "image": "images/0.png"}
    shutil.copytree(FIXTURE / "images", tmp_path / "images")
    write_jsonl(tmp_path / "train.jsonl", [row, dict(row, problem="Count.")])
    write_jsonl(tmp_path / "ood.jsonl", [dict(row, solution="<answer>yes</answer>")])
    leaky = resolve(plugin.config_cls, plugin.presets, "tiny",
                    overrides={"data": str(tmp_path), "replay_ratio": 0})
    with pytest.raises(UserError, match="also appear in a test split"):
        check_data(leaky)
    # --drop_overlap trains on the rest and says how many rows it left out.
    dropping = resolve(plugin.config_cls, plugin.presets, "tiny",
                       overrides={"data": str(tmp_path), "drop_overlap": True,
                                  "replay_ratio": 0})
    said = []
    check_data(dropping, log=said.append)
    assert said and "1 training row(s) also appear in a test split" in said[0]
    assert [r["question"] for r in train_samples(dropping, tiers=("open",))] == ["Count."]
    with pytest.raises(UserError, match="no train rows of detection"):
        train_samples(resolve(plugin.config_cls, plugin.presets, "tiny",
                              overrides={"data": str(tmp_path), "families": "detection"}))


GOOD = {"problem": "<image>How many?", "solution": "<answer>3</answer>", "task": "math",
        "image": "images/0.png"}


def warnings_of(caplog, folder, **kw):
    """(records by id, warning messages) of a fresh read of `folder`."""
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="reftbench.data.refdata"):
        records = by_id(folder, **kw)
    return records, [rec.getMessage() for rec in caplog.records]


def test_unreadable_images_are_bad_rows_found_when_the_rows_are_read(tmp_path, caplog):
    from PIL import Image

    images = tmp_path / "images"
    images.mkdir()
    shutil.copy(FIXTURE / "images" / "0.png", images / "0.png")
    (images / "empty.png").write_bytes(b"")
    (images / "garbage.png").write_bytes(b"\x89PNG\r\n\x1a\n not really a PNG")
    (images / "truncated.png").write_bytes((FIXTURE / "images" / "1.png").read_bytes()[:120])
    Image.new("1", (10_000, 9_000)).save(images / "bomb.png")  # 90 Mpixel, a few kB
    rows = [dict(GOOD, image=f"images/{name}.png")
            for name in ("0", "empty", "garbage", "truncated", "bomb")]
    rows.append({"problem": "<image>Where is the square?", "solution": "<answer>[20, 4, 40, 16]"
                 "</answer>", "task": "detection", "image": "images/0.png"})
    write_jsonl(tmp_path / "id.jsonl", rows)
    records, messages = warnings_of(caplog, tmp_path)
    assert set(records) == {"id-1", "id-6"}
    for line, reason in ((2, "image empty.png is empty"),
                         (3, "image garbage.png is corrupt or not an image"),
                         (4, "image truncated.png is corrupt or not an image"),
                         (5, "image bomb.png has over 89,478,485 pixels")):
        assert any(f"id.jsonl:{line}: {reason}" in m for m in messages), (line, messages)
    assert any("id.jsonl:6: box [20, 4, 40, 16] lies outside its 32x32 image 0.png" in m
               for m in messages), messages
    with pytest.raises(UserError, match=r"id.jsonl:2: image empty.png is empty \(--strict"):
        read_folder(tmp_path, strict=True)


def test_text_that_would_fail_mid_run_is_a_bad_row(copy, caplog):
    nested = '{"problem": ' + "[" * 100_000 + "]" * 100_000 + "}"
    lone = json.dumps(dict(GOOD, problem="How many \ud800?"))  # JSON escapes it as \ud800
    write_jsonl(copy / "id.jsonl", [dict(GOOD, problem="<image>First row")])
    (copy / "id.jsonl").write_bytes(b"\xef\xbb\xbf" + (copy / "id.jsonl").read_bytes())
    with open(copy / "id.jsonl", "a") as fh:
        fh.write(nested + "\n" + lone + "\n" + json.dumps(dict(GOOD, problem="x" * 1_000_000))
                 + "\n")
    records, messages = warnings_of(caplog, copy)
    assert records["id-1"]["question"] == "First row", "a byte-order mark does not cost row 1"
    for line, reason in ((2, "JSON nested too deeply"),
                         (3, "field problem holds '\\ud800', a lone surrogate"),
                         (4, "question is 1,000,000 characters long; at most 20,000")):
        assert any(f"id.jsonl:{line}: {reason}" in m for m in messages), (line, messages)


def test_only_regular_files_are_read(copy, caplog):
    import os

    (copy / "id.jsonl").unlink()
    (copy / "id.jsonl").mkdir()
    (copy / "ood").mkdir()
    os.mkfifo(copy / "ood" / "pipe.jsonl")  # opening it would wait for a writer forever
    records, messages = warnings_of(caplog, copy)
    assert {r["split"] for r in records.values()} == {"train", "ood"}
    for path in (copy / "id.jsonl", copy / "ood" / "pipe.jsonl"):
        assert f"{path}: not read: not a regular file" in messages
    with pytest.raises(UserError, match="id.jsonl: not read: not a regular file"):
        read_folder(copy, strict=True)


def test_the_folder_is_resolved_once_not_once_per_row(tmp_path, monkeypatch):
    shutil.copytree(FIXTURE / "images", tmp_path / "images")
    write_jsonl(tmp_path / "train.jsonl", [GOOD] * 200)
    calls = []
    real = Path.resolve
    monkeypatch.setattr(Path, "resolve",
                        lambda self, *a, **k: calls.append(self) or real(self, *a, **k))
    assert len(read_folder(tmp_path)) == 200
    assert len(calls) < 10, f"Path.resolve called {len(calls)} times for 200 rows"


def test_wide_images_are_scaled_to_8_bits_not_clipped(tmp_path):
    import numpy as np
    from PIL import Image

    from reftbench.data.generated import load_image

    ramp = np.tile(np.linspace(0, 1, 64), (16, 1))
    for name, image in (("i16.png", Image.fromarray((ramp * 65535).astype(np.uint16))),
                        ("f.tiff", Image.fromarray(ramp.astype(np.float32))),
                        ("i32.tiff", Image.fromarray((ramp * 65535).astype(np.int32)))):
        image.save(tmp_path / name)
        pixels = np.asarray(load_image(str(tmp_path / name)))
        assert pixels.shape == (16, 64, 3) and pixels.dtype == np.uint8, name
        assert pixels[:, 0].max() == 0 and pixels[:, -1].min() == 255, name
        assert abs(pixels.mean() - 127.5) < 2, (name, pixels.mean())


def test_training_datasets_scale_wide_images_too(tmp_path):
    import numpy as np
    from PIL import Image

    from reftbench.training.datasets import grpo_dataset, sft_dataset

    ramp = np.tile(np.linspace(0, 1, 64), (16, 1))
    Image.fromarray((ramp * 65535).astype(np.uint16)).save(tmp_path / "i16.png")
    sample = {"id": "train-1", "family": "math", "split": "train", "tier": "open", "answer": "3",
              "metric": "math_equiv", "question": "How many?",
              "image_path": str(tmp_path / "i16.png")}
    for dataset in (grpo_dataset([sample]), sft_dataset([sample])):
        image = dataset[0]["image"]
        assert image.mode == "RGB" and abs(np.asarray(image).mean() - 127.5) < 2
