"""experiments/compare_probe.py: judge and choice scored with the checked fact handed to the model."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from experiments import compare_probe  # noqa: E402
from reftbench.scoring.rewards import score  # noqa: E402


def test_questions_are_the_held_back_judge_and_choice_scenes():
    rows = compare_probe.questions(first=6, scenes=3, seed=0)
    assert {r["tier"] for r in rows} == {"judge", "choice"}
    assert all(r["split"] == "train" for r in rows)
    assert {int(r["base_id"].rsplit("-", 1)[1]) for r in rows} == {6, 7, 8}


def test_the_given_fact_plus_the_gold_verdict_scores_and_a_wrong_one_does_not():
    for row in compare_probe.questions(first=0, scenes=4, seed=0):
        prefix = compare_probe.given_fact(row)
        assert prefix.startswith("<think>It is ") and prefix.endswith("</think><answer>")
        assert score(row, prefix + row["answer"] + "</answer>")["strict"] == 1.0
        wrong = {"yes": "no", "no": "yes"}.get(row["answer"], "H")
        assert score(row, prefix + wrong + "</answer>")["strict"] == 0.0


def test_verdict_labels_keep_only_the_target_tokens(micro):
    _, processor = micro
    tokenizer = processor.tokenizer
    tokenizer.padding_side = "right"
    texts, targets = (["a long prompt here <answer>", "short <answer>"],
                      ["yes</answer>", "B</answer>"])
    inputs = tokenizer([t + v for t, v in zip(texts, targets)], padding=True, return_tensors="pt")
    labels = compare_probe.verdict_labels(inputs, targets, tokenizer)
    for i, target in enumerate(targets):
        kept = labels[i][labels[i] != -100]
        assert tokenizer.decode(kept) == target
    assert (labels[1][inputs["attention_mask"][1] == 0] == -100).all()


def test_score_model_reports_free_and_given_fact_accuracy_per_family_and_tier(micro, tmp_path):
    model, processor = micro
    model.save_pretrained(tmp_path)
    processor.save_pretrained(tmp_path)
    rows = compare_probe.questions(first=0, scenes=1, seed=0)
    scores = compare_probe.score_model(str(tmp_path), rows)
    assert set(scores) == {(r["family"], r["tier"]) for r in rows}
    assert all(0 <= free <= 100 and 0 <= given <= 100 for free, given in scores.values())


def test_a_text_only_verdict_phase_trains_the_language_model_alone(micro, tmp_path):
    from safetensors.torch import load_file

    model, processor = micro
    start = tmp_path / "start"
    model.save_pretrained(start)
    processor.save_pretrained(start)
    saved = compare_probe.verdict_phase(str(start), steps=2, lr=1e-2, batch=2, scenes=4,
                                        out=tmp_path, text_only=True)
    before = load_file(str(start / "model.safetensors"))
    after = load_file(str(Path(saved) / "model.safetensors"))
    visual = [k for k in before if "visual" in k]
    assert visual and all((before[k] == after[k]).all() for k in visual)
    assert any((before[k] != after[k]).any() for k in before if k not in visual)
