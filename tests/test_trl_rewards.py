("TRL reward adapters: the columns TRL passes in, string and conversational completions, "
 "weights.")

import pickle

import pytest

from reftbench.training import trl_rewards
from reftbench.errors import UserError
from reftbench.training.trl_rewards import accuracy_reward, completion_text, format_reward, make_reward_funcs

# Three rows as TRL hands them over: one list per dataset column. A datasets.Dataset fills the
# options of rows that have none with None.
COLUMNS = {
    "id": ["d-open", "c-choice", "m-open"],
    "family": ["detection", "classification", "math"],
    "tier": ["open", "choice", "open"],
    "answer": ["[10, 10, 50, 50]", "A,C", "12"],
    "options": [None, ["cat", "dog", "cow", "hen"], None],
    "metric": ["box_iou", "letters", "math_equiv"],
    # what TRL adds besides the columns
    "trainer_state": object(),
    "log_metric": print,
}
TEXTS = [
    "<think>the man</think><answer>[11, 10, 50, 50]</answer>",  # right box
    "<think>hmm</think><answer>A or C</answer>",  # cheat: no credit
    "12",  # right number but no tags: neither format nor accuracy
]
PROMPTS = ["p0", "p1", "p2"]


def conversational(text):
    return [{"role": "assistant", "content": text}]


@pytest.fixture(autouse=True)
def empty_cache():
    trl_rewards._cache.clear()


def test_string_completions():
    assert format_reward(prompts=PROMPTS, completions=TEXTS, **COLUMNS) == [1.0, 1.0, 0.0]
    assert accuracy_reward(prompts=PROMPTS, completions=TEXTS, **COLUMNS) == [1.0, 0.0, 0.0]


def test_conversational_completions():
    completions = [conversational(text) for text in TEXTS]
    completions[2] = conversational("<think>count</think><answer>12.0</answer>")
    format_, accuracy = make_reward_funcs()
    assert format_(prompts=PROMPTS, completions=completions, **COLUMNS) == [1.0, 1.0, 1.0]
    assert accuracy(prompts=PROMPTS, completions=completions, **COLUMNS) == [1.0, 0.0, 1.0]


def test_completion_text_shapes():
    assert completion_text("abc") == "abc"
    assert completion_text(conversational("abc")) == "abc"
    parts = [{"role": "assistant", "content": [{"type": "text", "text": "<answer>"},
                                               {"type": "image"},
                                               {"type": "text", "text": "B</answer>"}]}]
    assert completion_text(parts) == "<answer>B</answer>"
    two = [{"role": "assistant", "content": "first"}, {"role": "user", "content": "x"},
           {"role": "assistant", "content": "last"}]
    assert completion_text(two) == "last"
    assert completion_text([{"role": "user", "content": "not the model"}]) == ""
    assert completion_text(None) == ""


def test_weights_names_and_pickling():
    funcs = make_reward_funcs({"format": 0.5, "accuracy": 2.0})
    assert [f.__name__ for f in funcs] == ["format_reward", "accuracy_reward"]
    assert funcs[0](prompts=PROMPTS, completions=TEXTS, **COLUMNS) == [0.5, 0.5, 0.0]
    assert funcs[1](prompts=PROMPTS, completions=TEXTS, **COLUMNS) == [2.0, 0.0, 0.0]
    # TRL may pickle reward functions (multiprocessing, checkpoints)
    restored = pickle.loads(pickle.dumps(funcs))
    assert restored[1](prompts=PROMPTS, completions=TEXTS, **COLUMNS) == [2.0, 0.0, 0.0]
    assert restored[1].__name__ == "accuracy_reward"


def test_unknown_weight_is_an_error():
    with pytest.raises(UserError):
        make_reward_funcs({"fromat": 1.0})


def test_rows_without_answer_are_skipped_with_none():
    columns = {"id": ["a", "b"], "answer": ["yes", None], "metric": ["yes_no", "yes_no"]}
    texts = ["<think>t</think><answer>yes</answer>"] * 2
    assert accuracy_reward(prompts=["p", "p"], completions=texts, **columns) == [1.0, None]
    assert format_reward(prompts=["p", "p"], completions=texts) == [None, None]


def test_each_completion_scored_once(monkeypatch):
    calls = []
    real_score = trl_rewards.score
    monkeypatch.setattr(trl_rewards, "score", lambda s, c: calls.append(c) or real_score(s, c))
    format_, accuracy = make_reward_funcs()
    format_(prompts=PROMPTS, completions=TEXTS, **COLUMNS)
    accuracy(prompts=PROMPTS, completions=TEXTS, **COLUMNS)
    assert calls == TEXTS


def test_same_text_different_gold_not_confused():
    columns = {"id": ["a", "b"], "answer": ["yes", "no"], "metric": ["yes_no", "yes_no"]}
    texts = ["<think>t</think><answer>yes</answer>"] * 2
    assert accuracy_reward(prompts=["p", "p"], completions=texts, **columns) == [1.0, 0.0]


def test_strict_accuracy_reward_gives_no_partial_credit_for_an_extra_label():
    columns = {"id": ["c1", "c2"], "answer": ["circle, star"] * 2,
               "metric": ["label_set_iou"] * 2}
    texts = ["<think>t</think><answer>circle, star, square</answer>",  # one label too many
             "<think>t</think><answer>circle, star</answer>"]
    paper = make_reward_funcs()[1](prompts=["p", "p"], completions=texts, **columns)
    strict = make_reward_funcs(accuracy="strict")[1]
    assert paper == [pytest.approx(2 / 3), 1.0]
    assert strict(prompts=["p", "p"], completions=texts, **columns) == [0.0, 1.0]
    assert strict.__name__ == "accuracy_reward"  # TRL's log column and the reward plot stay put
    with pytest.raises(UserError, match="accuracy_reward"):
        make_reward_funcs(accuracy="iou")
