"""The train/test overlap check: a test item trained on is refused even when its question's
case, spacing or punctuation changed, or (real data) its image was saved again."""

from __future__ import annotations

import json

import pytest
from PIL import Image, ImageDraw

from reftbench.errors import UserError
from reftbench.training.overlap import find_overlap, question_key


def scene(path, where: int):
    """A 64x64 picture: a red square at `where` on grey."""
    img = Image.new("RGB", (64, 64), (120, 120, 120))
    ImageDraw.Draw(img).rectangle([where, where, where + 20, where + 20], fill=(220, 30, 30))
    img.save(path)
    return str(path)


def sample(sid, question, image):
    return {"id": sid, "question": question, "image_path": image}


def test_questions_match_whatever_their_case_spacing_and_punctuation():
    assert question_key("How  many\nCircles?") == question_key("how many circles") \
        == question_key("HOW MANY CIRCLES ?!")
    assert question_key("How many circles?") != question_key("How many squares?")


def test_a_test_item_saved_again_is_found_and_another_picture_is_not(tmp_path):
    test = [sample("test-1", "How many squares?", scene(tmp_path / "t.png", 10))]
    Image.open(tmp_path / "t.png").resize((80, 80)).save(tmp_path / "copy.jpg", quality=75)
    recased = sample("train-1", "how many  SQUARES", str(tmp_path / "t.png"))
    reencoded = sample("train-2", "How many squares?", str(tmp_path / "copy.jpg"))
    other = sample("train-3", "How many squares?", scene(tmp_path / "o.png", 35))
    assert find_overlap([recased, reencoded, other], test) == [("train-1", "test-1")]
    assert find_overlap([recased, reencoded, other], test, perceptual=True) == [
        ("train-1", "test-1"), ("train-2", "test-1")]


def test_training_on_a_recased_reencoded_test_row_of_a_data_folder_is_refused(tmp_path):
    from reftbench.training.run import check_data, prepare

    data = tmp_path / "data"
    (data / "images").mkdir(parents=True)
    scene(data / "images" / "t.png", 10)
    scene(data / "images" / "u.png", 35)
    Image.open(data / "images" / "t.png").save(data / "images" / "t.jpg", quality=80)
    row = {"problem": "<image>How many squares?", "solution": "<answer>1</answer>",
           "task": "math"}
    (data / "id.jsonl").write_text(json.dumps({**row, "image": "images/t.png"}) + "\n")
    (data / "train.jsonl").write_text("".join(json.dumps(r) + "\n" for r in (
        {**row, "image": "images/u.png"},  # another picture: fine
        {**row, "problem": "<image>HOW MANY squares", "image": "images/t.jpg"})))
    _, cfg, *_ = prepare("grpo", "tiny", None, ["--model", "random-micro", "--data", str(data),
                                                "--families", "math"], tmp_path / "run", False)
    with pytest.raises(UserError, match=r"1 training sample\(s\) also appear in a test split "
                                        r"\(e\.g\. train-2 = id-1"):
        check_data(cfg)

