"""Boxes are scored in the frame the model saw (reftbench/scoring/frames.py)."""

import pytest
from PIL import Image

from reftbench.scoring.frames import in_model_frame, resize_of, seen_size
from reftbench.scoring.rewards import score


def box_sample(tmp_path, width, height, box):
    path = tmp_path / f"{width}x{height}.png"
    Image.new("RGB", (width, height)).save(path)
    return {"id": "d", "family": "detection", "split": "ood", "tier": "open",
            "metric": "box_iou", "answer": str(list(box)), "image_path": str(path)}


@pytest.fixture(scope="module")
def processor():
    from reftbench.model.load import load_processor
    from reftbench.model.names import ensure_preset

    return load_processor(str(ensure_preset("random-micro")))


@pytest.mark.parametrize("max_pixels", [401_408, 1_003_520, 12_845_056, 200_000])
def test_a_perfect_box_on_a_large_frame_scores_one_at_every_max_pixels(tmp_path, processor,
                                                                       max_pixels):
    from reftbench.model.processor import set_image_pixels

    set_image_pixels(processor, min_pixels=3136, max_pixels=max_pixels)
    gold = (412.0, 300.0, 980.0, 811.0)
    sample = box_sample(tmp_path, 1914, 1052, gold)
    # What the processor really does with the image: its patch grid, 14 pixels a patch.
    grid = processor.image_processor(images=[Image.open(sample["image_path"])],
                                     return_tensors="pt")["image_grid_thw"][0]
    seen_w, seen_h = int(grid[2]) * 14, int(grid[1]) * 14
    assert resize_of(processor)(1914, 1052) == (seen_w, seen_h)
    # The model answers in the pixels it saw: the gold box scaled into that frame.
    sx, sy = seen_w / 1914, seen_h / 1052
    answer = [round(gold[0] * sx), round(gold[1] * sy), round(gold[2] * sx), round(gold[3] * sy)]
    (framed,), frame = in_model_frame([sample], resize_of(processor))
    completion = f"<think>x</think><answer>{answer}</answer>"
    assert frame == "model" and score(framed, completion)["accuracy"] == 1.0
    assert framed["answer_original"] == sample["answer"]
    # Scored in the original frame, the same perfect answer misses at the preset's size.
    if max_pixels == 401_408:
        assert score(sample, completion)["accuracy"] == 0.0


def test_an_image_the_processor_keeps_is_left_as_it_was(tmp_path, processor):
    from reftbench.model.processor import set_image_pixels

    set_image_pixels(processor, min_pixels=10_000, max_pixels=18_769)
    sample = box_sample(tmp_path, 112, 112, (10, 12, 50, 60))
    assert in_model_frame([sample], resize_of(processor)) == ([sample], "model")


def test_other_processors_and_other_metrics_are_untouched(tmp_path):
    sample = box_sample(tmp_path, 1914, 1052, (1, 2, 30, 40))
    assert in_model_frame([sample], None) == ([sample], "original")
    maths = dict(sample, metric="math_equiv", answer="12")
    assert in_model_frame([maths], lambda w, h: (w // 2, h // 2))[0] == [maths]


def test_a_tiny_box_never_rounds_to_nothing(tmp_path):
    sample = box_sample(tmp_path, 2000, 2000, (100, 100, 101, 101))
    (framed,), _ = in_model_frame([sample], lambda w, h: (200, 200))
    assert score(framed, f"<answer>{framed['answer']}</answer>")["accuracy"] == 1.0


def test_boxes_in_a_detection_question_s_text_follow_the_image(tmp_path):
    # A judge question and a choice question about a 2000x1000 photo the model sees at half size.
    judge = dict(box_sample(tmp_path, 2000, 1000, (0, 0, 1, 1)), tier="judge", metric="yes_no",
                 answer="yes", question="Is the dog inside [400, 300, 980.5, 811]? Answer yes or no.")
    choice = dict(judge, tier="choice", metric="letters", answer="B",
                  question="Which box holds the dog?\nA. [0,0,100,100]\nB. [400, 300, 980, 812]",
                  options=["[0,0,100,100]", "[400, 300, 980, 812]"])
    (j, c), _ = in_model_frame([judge, choice], lambda w, h: (w // 2, h // 2))
    assert j["question"] == "Is the dog inside [200, 150, 490, 406]? Answer yes or no."
    assert j["question_original"] == judge["question"] and j["answer"] == "yes"
    assert c["question"] == "Which box holds the dog?\nA. [0, 0, 50, 50]\nB. [200, 150, 490, 406]"
    assert c["options"] == ["[0, 0, 50, 50]", "[200, 150, 490, 406]"] and c["answer"] == "B"
    # A normalised box, another family's number list and an image the processor keeps: as written.
    normalised = dict(judge, question="Is the dog inside [0.2, 0.3, 0.49, 0.81]?")
    maths = dict(judge, family="math", question="What is the sum of [1, 2, 3, 40]?")
    huge = dict(judge, question=f"Inside [{'9' * 400}, 0, 1, 2]?")
    assert in_model_frame([normalised, maths, huge], lambda w, h: (w // 2, h // 2))[0] == [
        normalised, maths, huge]
    assert in_model_frame([judge], lambda w, h: (w, h))[0] == [judge]


def test_seen_size_matches_the_arithmetic_of_the_reference_resize():
    assert seen_size(1914, 1052, 28, 3136, 512 * 28 * 28) == (840, 448)
    assert seen_size(640, 640, 28, 3136, 401_408) == (616, 616)
    assert seen_size(112, 112, 28, 10_000, 18_769) == (112, 112)


def test_training_rows_carry_boxes_in_the_frame_the_model_sees(tmp_path):
    """SFT targets, GRPO rewards and rejection sampling all read train_samples' answers."""
    import json

    from reftbench.config import resolve
    from reftbench.registry import load_trainer
    from reftbench.training.splits import train_samples

    (tmp_path / "images").mkdir()
    Image.new("RGB", (1914, 1052)).save(tmp_path / "images" / "frame.png")
    Image.new("RGB", (112, 112)).save(tmp_path / "images" / "small.png")
    row = {"problem": "<image>Where is the car?", "solution": "<answer>[412, 300, 980, 811]</answer>",
           "task": "detection", "image": "images/frame.png"}
    test = dict(row, image="images/small.png", solution="<answer>[1, 2, 30, 40]</answer>")
    (tmp_path / "train.jsonl").write_text(json.dumps(row) + "\n")
    (tmp_path / "id.jsonl").write_text(json.dumps(test) + "\n")
    plugin = load_trainer("grpo")
    cfg = resolve(plugin.config_cls, plugin.presets, "tiny", overrides={
        "data": str(tmp_path), "families": ("detection",), "model": "random-micro",
        "max_pixels": 401_408, "min_pixels": 3136})
    (sample,) = train_samples(cfg, tiers=("open",))
    assert sample["answer"] == "[181, 128, 430, 345]"  # 840x448 seen for 1914x1052
    assert sample["answer_original"] == "[412, 300, 980, 811]"
