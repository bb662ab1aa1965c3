"""Scoring cannot be turned against the user: data names only registered metrics, and no answer
holds the scorer longer than its time limit."""

from __future__ import annotations

import json
import random
import time
from importlib.metadata import EntryPoint

import pytest

from reftbench.scoring import math_worker, rewards
from reftbench.errors import UserError
from reftbench.scoring.rewards import registered_metrics, resolve_metric, score


def wrap(answer: str) -> str:
    return f"<think>x</think><answer>{answer}</answer>"


@pytest.mark.parametrize("metric", ["builtins:eval", "builtins:exec"])
def test_a_metric_naming_python_code_runs_nothing(metric, tmp_path):
    marker = tmp_path / "ran"
    payload = f"__import__('pathlib').Path({str(marker)!r}).touch()"
    row = {"id": "evil", "metric": metric, "answer": payload}
    with pytest.raises(UserError, match="unknown metric .*registered metric"):
        score(row, wrap(payload))
    assert not marker.exists()


def test_a_datasets_folder_naming_code_is_a_bad_row(tmp_path):
    from datasets import Dataset, DatasetDict

    from reftbench.data.refdata import read_folder

    marker = tmp_path / "ran"
    (tmp_path / "ds" / "images").mkdir(parents=True)
    from PIL import Image

    Image.new("RGB", (8, 8)).save(tmp_path / "ds" / "images" / "0.png")
    row = {"id": "evil", "family": "math", "split": "id", "tier": "open",
           "image": "images/0.png", "question": "How many?", "metric": "builtins:eval",
           "answer": f"__import__('pathlib').Path({str(marker)!r}).touch()"}
    DatasetDict({"id": Dataset.from_list([row])}).save_to_disk(str(tmp_path / "ds"))
    with pytest.raises(UserError, match="unknown metric 'builtins:eval'"):
        read_folder(tmp_path / "ds", strict=True)
    assert not marker.exists()


def test_plugins_register_metrics_through_entry_points(monkeypatch):
    plugin = EntryPoint("plugin_letters", "reftbench.scoring.metrics:letters", "reftbench.scoring.metrics")
    monkeypatch.setattr(rewards, "entry_points",
                        lambda group: [plugin] if group == "reftbench.scoring.metrics" else [])
    resolve_metric.cache_clear()
    try:
        assert "plugin_letters" in registered_metrics()
        row = {"id": "p", "metric": "plugin_letters", "answer": "B", "options": ["a", "b"]}
        assert score(row, wrap("B"))["accuracy"] == 1.0
    finally:
        resolve_metric.cache_clear()


# Answers that once held sympy for 9 s to 2 minutes, each under the length guard.
EXPLOSIVE = [r"(a+b+c+d+e)^{30}", r"(\sqrt{\sqrt{\sqrt{2}+1}+1}+1)^{999}", r"(x+y+1)^{99}"]


@pytest.mark.parametrize("answer", EXPLOSIVE)
def test_explosive_maths_is_cut_off_scored_zero_and_counted(answer):
    before = math_worker.timeouts()
    start = time.monotonic()
    result = score({"id": "m", "metric": "math_equiv", "answer": "12"}, wrap(answer))
    # The limit, plus the time it takes to kill the child and start the next one.
    assert time.monotonic() - start < math_worker.MATH_TIMEOUT_S + 3
    assert result["accuracy"] == 0.0 and result["timed_out"] == 1.0
    assert math_worker.timeouts() == before + 1
    # The scorer is usable again at once, and still right.
    assert score({"id": "m", "metric": "math_equiv", "answer": "3/4"}, wrap("0.75"))["accuracy"] == 1


def test_the_evaluator_counts_answers_cut_off():
    from reftbench.evaluation.stats import aggregate

    rows = [{"family": "math", "split": "id", "tier": "open", "strict": 0.0, "timed_out": 1.0},
            {"family": "math", "split": "id", "tier": "open", "strict": 1.0}]
    assert aggregate(rows)["math/id/open"]["timed_out"] == 1


def _hostile_maths(rng: random.Random) -> str:
    """A short expression built to be slow: powers of sums, nested roots, products of powers."""
    atoms = ["x", "y", "a", "b", "2", "3", r"\sqrt{2}", r"\pi", r"\frac{1}{3}"]

    def term(depth: int) -> str:
        if depth == 0 or rng.random() < 0.3:
            return rng.choice(atoms)
        kind = rng.randrange(3)
        inner = "+".join(term(depth - 1) for _ in range(rng.randint(2, 3)))
        if kind == 0:
            return f"({inner})"
        if kind == 1:
            return rf"\sqrt{{{inner}}}"
        return rf"\frac{{{inner}}}{{{term(depth - 1)}}}"

    body = term(2)
    return f"({body})^{{{rng.randint(2, 999)}}}" if rng.random() < 0.7 else body


def test_fuzzed_maths_answers_stay_within_the_limit(monkeypatch):
    # A shorter limit keeps the fuzz quick; what is tested is that no call outlives it.
    monkeypatch.setattr(math_worker, "MATH_TIMEOUT_S", 0.5)
    rng = random.Random(0)
    answers = [_hostile_maths(rng) for _ in range(40)]
    slowest = 0.0
    for answer in answers:
        start = time.monotonic()
        result = score({"id": "m", "metric": "math_equiv", "answer": "7"}, wrap(answer))
        slowest = max(slowest, time.monotonic() - start)
        assert result["accuracy"] in (0.0, 1.0)
    # The limit, plus a restart of the child after a cut-off call.
    assert slowest < 0.5 + 3, json.dumps(answers)


def test_every_metric_is_fast_on_garbage():
    rng = random.Random(1)
    alphabet = "0123456789+-*/^()[]{},. abcxyz\\sqrtfrac"
    names = [n for n in registered_metrics() if n != "math_equiv"]
    start = time.monotonic()
    for _ in range(300):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 3000)))
        for name in names:
            score({"id": "g", "metric": name, "answer": "1", "options": ["a", "b"]}, wrap(text))
    assert time.monotonic() - start < 20
