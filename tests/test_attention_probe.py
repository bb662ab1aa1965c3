"""experiments/attention_probe.py: which completion tokens write the answer."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from experiments.attention_probe import answer_span  # noqa: E402


def test_answer_tokens_are_those_between_the_tags():
    pieces = ["<think>", "two", "</think>", "<answer>", "circle", ",", " star", "</answer>"]
    assert [pieces[i] for i in answer_span(pieces)] == ["circle", ",", " star"]


def test_tags_split_over_tokens_and_text_glued_to_them():
    pieces = ["<", "answer", ">ci", "rcle", "</", "answer>"]
    # The token that completes "<answer>" also starts the answer; the span begins after it.
    assert [pieces[i] for i in answer_span(pieces)] == ["rcle"]


def test_no_answer_block_gives_no_tokens():
    assert not answer_span(["<think>", "x", "</think>"])
    assert not answer_span(["</answer>", "<answer>"])
