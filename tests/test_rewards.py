"""The strict scorer on crafted completions, most of them attempts to cheat it.

Each row of CASES is (sample, completion, format, accuracy): the expected values are exact, so a
scorer that turns lenient (substring matches, superset letters, "A or B") fails here first.
"""

import math
import threading
import time

import pytest

from reftbench.scoring import rewards
from reftbench.errors import UserError
from reftbench.scoring.rewards import METRICS, extract_answer, format_ok, score


def sample(metric, answer, **extra):
    return {"id": "x", "family": "detection", "split": "id", "tier": "open",
            "image": "images/0.png", "question": "?", "answer": answer, "metric": metric, **extra}


YES = sample("yes_no", "yes", tier="judge")
NO = sample("yes_no", "no", tier="judge")
ONE = sample("letters", "B", tier="choice", options=["red", "blue", "green", "pink"])
TWO = sample("letters", "A,C", tier="choice", options=["a", "b", "c", "d", "e"])
BOX = sample("box_iou", "[10, 10, 50, 50]")
LABELS = sample("label_set_iou", "circle, square", family="classification")
TWELVE = sample("math_equiv", "12", family="math")
QUARTER = sample("math_equiv", "0.75", family="math")
FRAC = sample("math_equiv", "\\frac{3}{4}", family="math")


def wrap(answer: str) -> str:
    return f"<think>let me look</think><answer>{answer}</answer>"


CASES = [
    # -- the format itself (scored on a yes/no sample)
    (YES, wrap("yes"), 1.0, 1.0),
    (YES, "  \n<think>a</think>\n\n<answer> Yes. </answer>\n", 1.0, 1.0),
    (YES, "<think></think><answer>yes</answer>", 1.0, 1.0),
    (YES, "<answer>yes</answer>", 0.0, 1.0),  # no think: accuracy still counts
    (YES, "<answer>yes</answer><think>t</think>", 0.0, 1.0),  # reversed order
    (YES, "Sure! <think>t</think><answer>yes</answer>", 0.0, 1.0),  # text before
    (YES, "<think>t</think><answer>yes</answer> Done.", 0.0, 1.0),  # text after
    (YES, "<think>t</think> so <answer>yes</answer>", 0.0, 1.0),  # text between
    (YES, "<think>a</think><think>b</think><answer>yes</answer>", 0.0, 1.0),  # two thinks
    (YES, "<think>t</think><answer>yes</answer><answer>yes</answer>", 0.0, 0.0),  # two answers
    (YES, "<think><answer>no</answer></think><answer>yes</answer>", 0.0, 0.0),  # answer in think
    (YES, "<think>t</think><answer><answer>yes</answer></answer>", 0.0, 0.0),  # nested
    (YES, "<think><think>t</think></think><answer>yes</answer>", 0.0, 1.0),  # nested think
    (YES, "<think>t</think>yes", 0.0, 0.0),  # answer outside tags
    (YES, "<think>yes</think>", 0.0, 0.0),  # think only
    (YES, "<think>t</think><answer>yes", 0.0, 0.0),  # unclosed
    (YES, "<think>t</think></answer>yes<answer>", 0.0, 0.0),  # tags swapped
    (YES, "<THINK>t</THINK><ANSWER>yes</ANSWER>", 0.0, 0.0),  # tags are lowercase
    (YES, "yes", 0.0, 0.0),
    (YES, "", 0.0, 0.0),
    (YES, "None", 0.0, 0.0),
    (YES, "<think>ü 😀 \x00</think><answer>🙂</answer>", 1.0, 0.0),
    # -- yes_no
    (YES, wrap("True"), 1.0, 1.0),
    (YES, wrap("CORRECT"), 1.0, 1.0),
    (NO, wrap("incorrect."), 1.0, 1.0),
    (NO, wrap("false"), 1.0, 1.0),
    (YES, wrap("no"), 1.0, 0.0),
    (YES, wrap(""), 1.0, 0.0),
    (YES, wrap("yes or no"), 1.0, 0.0),
    (YES, wrap("yes, no"), 1.0, 0.0),
    (YES, wrap("yes no"), 1.0, 0.0),
    (YES, wrap("yes/no"), 1.0, 0.0),
    (YES, wrap("yes.."), 1.0, 0.0),
    (YES, wrap("maybe"), 1.0, 0.0),
    (YES, wrap("The answer is yes"), 1.0, 0.0),
    (YES, wrap("yes" * 20), 1.0, 0.0),
    # -- letters
    (ONE, wrap("B"), 1.0, 1.0),
    (ONE, wrap(" (B) "), 1.0, 1.0),
    (ONE, wrap("b."), 1.0, 1.0),
    (ONE, wrap("A"), 1.0, 0.0),
    (ONE, wrap(""), 1.0, 0.0),
    (ONE, wrap("A or B"), 1.0, 0.0),
    (ONE, wrap("B or C"), 1.0, 0.0),
    (ONE, wrap("A, B, C, D"), 1.0, 0.0),  # every letter
    (ONE, wrap("B, C"), 1.0, 0.0),  # superset
    (ONE, wrap("E"), 1.0, 0.0),  # only four options
    (ONE, wrap("B is correct"), 1.0, 0.0),
    (ONE, wrap("B: blue"), 1.0, 0.0),
    (TWO, wrap("A, C"), 1.0, 1.0),
    (TWO, wrap("A,C"), 1.0, 1.0),
    (TWO, wrap("C A"), 1.0, 1.0),
    (TWO, wrap("(A), (C)"), 1.0, 1.0),
    (TWO, wrap("A"), 1.0, 0.0),  # subset
    (TWO, wrap("A, C, E"), 1.0, 0.0),  # superset
    (TWO, wrap("A, B, C, D, E"), 1.0, 0.0),
    (TWO, wrap("A and C"), 1.0, 0.0),
    (TWO, wrap("A/C"), 1.0, 0.0),
    (TWO, wrap("AC"), 1.0, 0.0),
    (TWO, wrap(",A,C"), 1.0, 0.0),
    # -- box_iou
    (BOX, wrap("[10, 10, 50, 50]"), 1.0, 1.0),
    (BOX, wrap("(12,10,50,52)"), 1.0, 1.0),
    (BOX, wrap("10, 10, 50, 50"), 1.0, 1.0),
    (BOX, wrap(" [10.0, 10.5, 49.9, 50] "), 1.0, 1.0),
    (BOX, wrap("[10, 10, 50, 50, 60]"), 1.0, 0.0),  # five numbers
    (BOX, wrap("[10, 10, 50]"), 1.0, 0.0),  # three numbers
    (BOX, wrap("[10, 10, 50, 50] [0, 0, 100, 100]"), 1.0, 0.0),  # two boxes
    (BOX, wrap("[10, 10, 50, 50], [10, 10, 50, 50]"), 1.0, 0.0),
    (BOX, wrap("[nan, 10, 50, 50]"), 1.0, 0.0),
    (BOX, wrap("[10, 10, inf, 50]"), 1.0, 0.0),
    (BOX, wrap("[10, 10, " + "9" * 400 + ", 50]"), 1.0, 0.0),  # overflows to inf
    (BOX, wrap("[50, 50, 10, 10]"), 1.0, 0.0),  # x2 < x1
    (BOX, wrap("[10, 10, 10, 50]"), 1.0, 0.0),  # zero width
    (BOX, wrap("[0, 0, 1000, 1000]"), 1.0, 0.0),  # cover the image
    (BOX, wrap("[30, 10, 70, 50]"), 1.0, 0.0),  # IoU 1/3
    (BOX, wrap("The box is [10, 10, 50, 50]"), 1.0, 0.0),
    (BOX, wrap("[10, 10, 50, 50)"), 1.0, 0.0),
    (BOX, wrap("10 10 50 50"), 1.0, 0.0),
    # the JSON form a grounding model (Qwen2.5-VL) writes: one object, one box
    (BOX, wrap('{"bbox_2d": [10, 10, 50, 50], "label": "red circle"}'), 1.0, 1.0),
    (BOX, wrap('{"bbox_2d": [12.5, 10, 50, 52]}'), 1.0, 1.0),
    (BOX, wrap('[{"bbox_2d": [10, 10, 50, 50], "label": "circle"}]'), 1.0, 1.0),
    (BOX, wrap('```json\n[{"bbox_2d": [10, 10, 50, 50], "label": "circle"}]\n```'), 1.0, 1.0),
    (BOX, wrap('{"bbox_2d": [60, 60, 90, 90], "label": "circle"}'), 1.0, 0.0),  # wrong place
    (BOX, wrap('[{"bbox_2d": [10, 10, 50, 50]}, {"bbox_2d": [0, 0, 100, 100]}]'), 1.0, 0.0),
    (BOX, wrap('[{"bbox_2d": [10, 10, 50, 50]}, {"bbox_2d": [10, 10, 50, 50]}]'), 1.0, 0.0),
    (BOX, wrap('{"bbox_2d": [10, 10, 50, 50]} {"bbox_2d": [0, 0, 9, 9]}'), 1.0, 0.0),  # two objects
    (BOX, wrap('{"bbox_2d": [[10, 10, 50, 50], [0, 0, 99, 99]]}'), 1.0, 0.0),  # a box list
    (BOX, wrap('{"bbox_2d": [10, 10, 50, 50], "bbox_2d": [0, 0, 99, 99]}'), 1.0, 0.0),  # key twice
    (BOX, wrap('{"bbox_2d": [10, 10, 50, 50], "boxes": [[0, 0, 99, 99]]}'), 1.0, 0.0),  # extra key
    (BOX, wrap('{"bbox_2d": [10, 10, 50, 50, 60]}'), 1.0, 0.0),
    (BOX, wrap('{"bbox_2d": ["10", "10", "50", "50"]}'), 1.0, 0.0),  # strings
    (BOX, wrap('{"bbox_2d": [true, 10, 50, 50]}'), 1.0, 0.0),
    (BOX, wrap('{"bbox_2d": [10, 10, 50, NaN]}'), 1.0, 0.0),
    (BOX, wrap('{"bbox_2d": [10, 10, 50, 1e999]}'), 1.0, 0.0),
    (BOX, wrap('{"label": "circle"}'), 1.0, 0.0),
    (BOX, wrap('{"bbox_2d": [10, 10, 50, 50], "label": ["a", "b"]}'), 1.0, 0.0),
    (BOX, wrap('[[10, 10, 50, 50]]'), 1.0, 0.0),  # a box list of one
    (BOX, wrap('[[10, 10, 50, 50], [0, 0, 100, 100]]'), 1.0, 0.0),
    (BOX, wrap('{"bbox_2d": [10, 10, 50, 50], "label": "' + "x" * 600 + '"}'), 1.0, 0.0),
    # -- label_set_iou
    (LABELS, wrap("circle, square"), 1.0, 1.0),
    (LABELS, wrap("Square and  CIRCLE."), 1.0, 1.0),
    (LABELS, wrap("circle, circle, square"), 1.0, 1.0),  # duplicates collapse
    (LABELS, wrap("circle"), 1.0, 0.5),
    (LABELS, wrap("circle, square, triangle, star, hexagon"), 1.0, 0.4),  # every class
    (LABELS, wrap("triangle"), 1.0, 0.0),
    (LABELS, wrap(""), 1.0, 0.0),
    (LABELS, wrap(" , and ,"), 1.0, 0.0),
    # a bracketed list, as a model writing JSON or Python gives it
    (LABELS, wrap('["circle", "square"]'), 1.0, 1.0),
    (LABELS, wrap("['Square', 'circle']"), 1.0, 1.0),
    (LABELS, wrap("[circle, square]"), 1.0, 1.0),
    (LABELS, wrap('["circle"]'), 1.0, 0.5),
    (LABELS, wrap('["circle", "square", "triangle", "star", "hexagon"]'), 1.0, 0.4),
    (LABELS, wrap("[]"), 1.0, 0.0),
    (LABELS, wrap('["circle", "square"], ["triangle"]'), 1.0, 0.0),  # two lists
    (LABELS, wrap('[["circle", "square"]]'), 1.0, 0.0),  # nested
    (LABELS, wrap('{"labels": ["circle", "square"]}'), 1.0, 0.0),
    (sample("label_set_iou", "['circle', 'square']"), wrap("circle, square"), 1.0, 1.0),  # gold too
    # -- math_equiv
    (TWELVE, wrap("12"), 1.0, 1.0),
    (TWELVE, wrap("12.0"), 1.0, 1.0),
    (TWELVE, wrap("$12$"), 1.0, 1.0),
    (TWELVE, wrap("\\boxed{12}"), 1.0, 1.0),
    (TWELVE, wrap("x = 12"), 1.0, 1.0),
    (TWELVE, wrap("\\frac{24}{2}"), 1.0, 1.0),
    (QUARTER, wrap("3/4"), 1.0, 1.0),
    (QUARTER, wrap("\\frac{3}{4}"), 1.0, 1.0),
    (FRAC, wrap("0.75"), 1.0, 1.0),
    (TWELVE, wrap("112"), 1.0, 0.0),  # the old substring match passed this
    (TWELVE, wrap("1"), 1.0, 0.0),
    (TWELVE, wrap("13"), 1.0, 0.0),
    (TWELVE, wrap(""), 1.0, 0.0),
    (TWELVE, wrap("12 or 13"), 1.0, 0.0),
    (TWELVE, wrap("12, 13"), 1.0, 0.0),
    (TWELVE, wrap("12 13"), 1.0, 0.0),
    (TWELVE, wrap("13 and 12"), 1.0, 0.0),
    (TWELVE, wrap("$12$ or $13$"), 1.0, 0.0),
    (TWELVE, wrap("12 \\text{ or } 13"), 1.0, 0.0),
    (TWELVE, wrap("12\\,13"), 1.0, 0.0),
    (TWELVE, wrap("1,2"), 1.0, 0.0),
    (TWELVE, wrap("12!"), 1.0, 0.0),
    (TWELVE, wrap("\\frac{{{{{\\sqrt}}"), 1.0, 0.0),  # LaTeX garbage
    (TWELVE, wrap("\\binom{12}{1}"), 1.0, 0.0),  # not a whitelisted command
    (TWELVE, wrap("9^{9^{9}}"), 1.0, 0.0),  # power tower
    (TWELVE, wrap("9**9**9"), 1.0, 0.0),
    (TWELVE, wrap("{" * 20 + "12" + "}" * 20), 1.0, 0.0),  # exponential for the parser
    (TWELVE, wrap("1" * 100), 1.0, 0.0),  # over the length cap
    (TWELVE, wrap("twelve"), 1.0, 0.0),
]


@pytest.mark.parametrize("sample_, completion, fmt, accuracy", CASES)
def test_crafted_completion(sample_, completion, fmt, accuracy):
    result = score(sample_, completion)
    assert result["format"] == fmt
    assert result["accuracy"] == pytest.approx(accuracy)
    assert result["reward"] == pytest.approx(fmt + accuracy)


def test_enough_cases():
    assert len(CASES) >= 40


@pytest.mark.parametrize("completion, fmt", [
    ("x" * 1_000_000, 0.0),
    ("<answer>" * 200_000, 0.0),
    ("<think>" + "</think><answer>" * 60_000 + "</answer>", 0.0),
    ("\udcff\ufeff<" * 300_000, 0.0),
    # well-formed but a megabyte inside <answer>: right shape, no answer read
    (wrap("y" * 1_000_000), 1.0),
    (wrap("[" * 500_000 + "]" * 500_000), 1.0),
    (wrap("12 " * 300_000), 1.0),
])
@pytest.mark.parametrize("sample_", [YES, ONE, BOX, LABELS, TWELVE])
def test_megabyte_garbage_is_fast_and_zero(sample_, completion, fmt):
    start = time.perf_counter()
    result = score(sample_, completion)
    assert time.perf_counter() - start < 2.0
    assert (result["format"], result["accuracy"], result["answer"]) == (fmt, 0.0, None)


@pytest.mark.parametrize("completion", [None, 12, b"<answer>yes</answer>", ["yes"], 1.5])
def test_non_string_completion_scores_zero(completion):
    assert score(YES, completion) == {"format": 0.0, "accuracy": 0.0, "reward": 0.0,
                                      "answer": None, "strict": 0.0}


def test_box_reports_iou():
    result = score(BOX, wrap("(12,10,50,52)"))
    # intersection 38x40, union 1600 + 38x42 - 1520
    assert result["iou"] == pytest.approx(1520 / 1676)
    assert score(BOX, wrap("[30, 10, 70, 50]"))["iou"] == pytest.approx(1 / 3)
    assert score(BOX, wrap("[50, 50, 10, 10]"))["iou"] == 0.0
    # "iou" is there even when there is no answer block at all
    assert score(BOX, "no tags")["iou"] == 0.0


def test_weights_and_answer_key():
    result = score(ONE, wrap("B"), weights={"format": 0.5, "accuracy": 2.0})
    assert result == {"format": 1.0, "accuracy": 1.0, "reward": 2.5, "answer": "B",
                      "strict": 1.0}
    assert score(ONE, wrap("A"), weights={"format": 0.25})["reward"] == 0.25


def test_extract_answer_and_format():
    assert extract_answer("<answer> 12 </answer>") == " 12 "
    assert extract_answer("</answer>12<answer>") is None
    assert extract_answer("<answer>" + "x" * (rewards.MAX_ANSWER_CHARS + 1) + "</answer>") is None
    assert format_ok("<think>a</think> \n <answer>b</answer>")
    assert not format_ok("<think>a</think>b<answer>b</answer>")


@pytest.mark.parametrize("name", ["nope", "reftbench.scoring.metrics:nope", "no_such_module:f", "",
                                  ".relative:f", "reftbench.samples:LETTERS",
                                  "reftbench.scoring.metrics:letters", "builtins:eval", "os:system"])
def test_unknown_metric_is_a_user_error(name):
    with pytest.raises(UserError):
        score(sample(name, "yes"), wrap("yes"))


def test_misbehaving_metric_never_raises_and_is_clamped(monkeypatch):
    def boom(answer_text, sample_):
        raise RuntimeError("bad metric")

    monkeypatch.setitem(METRICS, "test_boom", boom)
    monkeypatch.setitem(METRICS, "test_big", lambda text, s: {"accuracy": 5.0, "format": -1})
    monkeypatch.setitem(METRICS, "test_nan", lambda text, s: {"accuracy": math.nan})
    assert score(sample("test_boom", "yes"), wrap("yes"))["reward"] == 1.0
    assert score(sample("test_big", "yes"), wrap("yes"))["reward"] == 2.0
    assert score(sample("test_big", "yes"), "<answer>x</answer><answer>y</answer>")["reward"] == 0
    assert score(sample("test_nan", "yes"), wrap("yes"))["accuracy"] == 0.0


def test_math_in_a_worker_thread():
    # math-verify's own timeouts use signals, which fail outside the main thread
    results = []
    worker = threading.Thread(target=lambda: results.append(score(FRAC, wrap("3/4"))))
    worker.start()
    worker.join(timeout=30)
    assert results and results[0]["accuracy"] == 1.0


def test_the_reference_box_reading_is_named_and_not_the_default():
    box = sample("box_iou", "[200, 150, 400, 300]")
    sentence = wrap("The box is [200, 150, 400, 300].")
    assert score(box, sentence)["accuracy"] == 0.0  # strict: the answer must be one box
    reference = dict(box, metric="box_iou_reference")
    assert score(reference, sentence)["accuracy"] == 1.0
    assert score(reference, wrap("[0, 0, 5, 5] or [200, 150, 400, 300]"))["accuracy"] == 0.0
    assert score(reference, wrap("no box"))["accuracy"] == 0.0
