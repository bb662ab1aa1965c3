"""The rejection sampler keeps exactly the answers it should, and curr-reft's last stage runs."""

from __future__ import annotations

import json

import pytest

from reftbench import fileio
from reftbench.training.rejection import best_answer, sample_and_filter

BOX = {"id": "d-1", "family": "detection", "split": "train", "tier": "open", "image": "x.png",
       "question": "Where?", "answer": "[10, 10, 50, 50]", "metric": "box_iou"}
COUNT = {"id": "m-1", "family": "math", "split": "train", "tier": "open", "image": "x.png",
         "question": "How many?", "answer": "4", "metric": "math_equiv"}


def fmt(answer: str) -> str:
    return f"<think>t</think><answer>{answer}</answer>"


@pytest.mark.parametrize("completions, threshold, kept", [
    # The best-scoring well-formed answer wins; ties keep the first.
    ([fmt("3"), fmt("4"), fmt("4.0")], 2.0, fmt("4")),
    # A right answer without the format is never kept, even if it is the only right one.
    (["<answer>4</answer>", fmt("5")], 1.0, fmt("5")),
    (["<answer>4</answer>", fmt("5")], 2.0, None),
    # Below the threshold: nothing.
    ([fmt("5"), fmt("6")], 1.5, None),
    # Threshold 1.0 keeps a well-formed wrong answer (format 1 + accuracy 0).
    ([fmt("6")], 1.0, fmt("6")),
    ([], 0.0, None),
])
def test_best_answer_on_math(completions, threshold, kept):
    got = best_answer(COUNT, completions, threshold)
    assert (got and got["completion"]) == kept


def test_best_answer_uses_the_strict_box_reward():
    near = fmt("[11, 11, 50, 50]")   # IoU > 0.5: accuracy 1
    far = fmt("[60, 60, 90, 90]")    # IoU 0
    two = fmt("[10, 10, 50, 50] [10, 10, 50, 50]")  # two boxes: strict scorer says 0
    assert best_answer(BOX, [far, two, near], 2.0)["completion"] == near
    assert best_answer(BOX, [far, two], 2.0) is None


class ScriptedBackend:
    """Returns fixed completions per sample id, and records what it was asked."""

    batch_size = 2

    def __init__(self, script):
        self.script, self.calls = script, []

    def generate(self, samples, sampling):
        self.calls.append([s["id"] for s in samples])
        assert sampling.n == 3 and sampling.temperature == 0.9
        return [self.script[s["id"]] for s in samples]


def test_sample_and_filter_keeps_and_resumes(tmp_path):
    samples = [dict(COUNT, id=f"m-{i}", answer=str(i)) for i in range(5)]
    script = {f"m-{i}": [fmt(str(i + 1)), fmt(str(i)) if i % 2 == 0 else "x", "y"]
              for i in range(5)}
    log = tmp_path / "samples.jsonl"
    # A previous, killed run already sampled m-0 and m-1.
    fileio.append_jsonl(log, [{"id": "m-0", "kept": {"completion": fmt("0"), "reward": 2.0,
                                                 "accuracy": 1.0}, "n": 3},
                          {"id": "m-1", "kept": None, "n": 3}])
    backend = ScriptedBackend(script)
    kept = sample_and_filter(backend, samples, k=3, temperature=0.9, threshold=2.0, log_path=log)
    assert backend.calls == [["m-2", "m-3"], ["m-4"]]  # nothing sampled twice
    assert [k["sample"]["id"] for k in kept] == ["m-0", "m-2", "m-4"]
    assert all(k["completion"] == fmt(k["sample"]["answer"]) for k in kept)
    assert len(fileio.read_jsonl(log)) == 5


def test_curr_reft_final_stage_fine_tunes_on_kept_answers(tmp_path, monkeypatch):
    """The whole curr-reft plan on micro, with a sampler that answers correctly half the time."""
    import reftbench.generation.backends
    from test_trainers import fast
    from reftbench.training.run import train

    def even(sample):
        return int(sample["base_id"].split("-")[-1]) % 2 == 0

    class GoldHalf:
        batch_size = 4

        def __init__(self, *a, **k):
            pass

        def generate(self, samples, sampling):
            return [[fmt(s["answer"]) if even(s) else "nonsense"] * sampling.n for s in samples]

    monkeypatch.setattr(reftbench.generation.backends, "TransformersBackend", GoldHalf)
    out = train("curr-reft", overrides=fast("curr-reft", stage_steps="1,1,1",
                                            stage_generations="2,2,2", rs_sft_steps="2",
                                            replay_ratio="1.0", evaluate="false"),
                output=tmp_path / "run")
    stage = tmp_path / "run/stages/4-rejection-sft"
    rows = fileio.read_jsonl(stage / "samples.jsonl")
    assert len(rows) == 3 * 3  # rs_prompts per family x families
    kept = {r["id"] for r in rows if r["kept"]}
    assert kept and kept == {r["id"] for r in rows if int(r["id"].split("-")[2]) % 2 == 0}
    record = json.loads((stage / "stage.json").read_text())
    assert record["model"] == out["model"] and str(stage) in out["model"]
    assert record["input_model"].endswith("3-open/model")
