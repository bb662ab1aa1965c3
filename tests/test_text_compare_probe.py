"""Comparison lines (reftbench/base_build/compare_lines.py), their training loop (compare_pretrain.py) and
experiments/text_compare_probe.py around them."""

import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from experiments import text_compare_probe as probe  # noqa: E402
from reftbench.base_build import compare_lines as cl  # noqa: E402
from reftbench.base_build import compare_pretrain as cp  # noqa: E402


def test_lines_have_the_verdict_their_fact_and_proposal_imply():
    rng = random.Random(0)
    lines = [cl.draw_line(rng) for _ in range(400)]
    judges = [line for line in lines if line[2] == "judge"]
    choices = [line for line in lines if line[2] == "choice"]
    yes = sum(v == "yes" for _, v, _ in judges)
    assert 150 < len(judges) < 250 and 0.35 < yes / len(judges) < 0.65
    for prompt, verdict, _ in judges:
        fact, proposal = prompt[len("It is "):-1].split(". Is it ")
        assert (fact == proposal) == (verdict == "yes")
    for prompt, verdict, _ in choices:
        fact, listed = prompt[len("It is "):-len(" Which?")].split(". ", 1)
        options = [o.strip() for o in listed.replace("A. ", "|").replace(" B. ", "|")
                   .replace(" C. ", "|").replace(" D. ", "|").replace(" E. ", "|").split("|")[1:]]
        assert len(options) == 5 and options.count(fact) == 1
        assert "ABCDE"[options.index(fact)] == verdict


def test_a_moved_box_differs_in_one_number():
    rng = random.Random(1)
    moved = 0
    for _ in range(200):
        fact = cl.draw_fact(rng, "box")
        other = cl.other_fact(rng, fact, "box")
        assert other != fact
        moved += sum(a != b for a, b in zip(fact.strip("[]").split(", "),
                                            other.strip("[]").split(", "))) == 1
    assert 60 < moved < 140


def test_labels_keep_one_token_per_line_the_verdicts_first(micro):
    _, processor = micro
    tokenizer = processor.tokenizer
    lines = [cl.draw_line(random.Random(i)) for i in range(6)]
    ids, labels = cp.encode(tokenizer, lines)
    kept = [t for t in labels if t != -100]
    assert len(ids) == len(labels) and len(kept) == len(lines)
    assert [tokenizer.decode([t]).strip() for t in kept] == [v for _, v, _ in lines]


def test_training_rows_report_loss_and_accuracy_per_tier(micro):
    import copy

    model, processor = micro
    model = copy.deepcopy(model)
    held = [cl.draw_line(random.Random(100 + i)) for i in range(30)]
    rows, last = cp.train(model, processor.tokenizer, steps=2, lr=1e-3, sequences=2,
                          lines=3, every=1, seed=0, held_out=held, log=lambda *a, **k: None)
    assert [r[0] for r in rows] == [0, 1, 2]
    assert rows[0][2] == "-" and all(r[2] > 0 for r in rows[1:])
    assert all(0 <= r[3] <= 100 and 0 <= r[4] <= 100 for r in rows)
    assert rows[-1][3:] == [last["judge"], last["choice"]]


def test_accuracy_is_also_split_by_fact_form(micro):
    model, processor = micro
    held = [cl.draw_line(random.Random(200 + i)) for i in range(60)]
    scores = cp.accuracy(model, processor.tokenizer, held)
    for tier in ("judge", "choice"):
        mine = [line for line in held if line[2] == tier]
        parts = {k: v for k, v in scores.items() if k.startswith(tier + "/")}
        assert set(parts) == {f"{tier}/{cl.kind_of(p)}" for p, _, _ in mine}
        # the tier's accuracy is the line-weighted mean of its forms'
        counts = {k: sum(f"{tier}/{cl.kind_of(p)}" == k for p, _, _ in mine) for k in parts}
        mean = sum(parts[k] * counts[k] for k in parts) / len(mine)
        assert abs(mean - scores[tier]) < 0.2
    assert "judge: " in probe.by_kind(scores) and "choice: " in probe.by_kind(scores)


def test_kind_of_names_the_form_of_the_fact():
    rng = random.Random(5)
    for kind in cl.KINDS:
        for _ in range(30):
            prompt, _, _ = cl.draw_line(rng, order="task", letters="echo", kinds=(kind,))
            assert cl.kind_of(prompt) == kind


def test_loss_all_targets_every_token_and_verdict_only_the_verdicts(micro):
    _, processor = micro
    lines = [cl.draw_line(random.Random(i)) for i in range(4)]
    ids, labels = cp.encode(processor.tokenizer, lines, loss="all")
    assert labels == ids
    _, verdict_only = cp.encode(processor.tokenizer, lines)
    assert sum(t != -100 for t in verdict_only) == len(lines)


def test_shots_come_before_every_scored_line(micro, monkeypatch):
    model, processor = micro
    seen = []
    real = processor.tokenizer.__class__.__call__

    def spy(self, text, *a, **k):
        seen.append(text)
        return real(self, text, *a, **k)

    monkeypatch.setattr(processor.tokenizer.__class__, "__call__", spy)
    shots = [("It is 3. Is it 3?", "yes", "judge")]
    cp.accuracy(model, processor.tokenizer, [("It is 4. Is it 5?", "no", "judge")], shots)
    assert "It is 3. Is it 3? yes\nIt is 4. Is it 5?" in seen


def test_task_order_states_the_fact_after_the_proposal_and_the_options():
    rng = random.Random(2)
    for _ in range(200):
        prompt, verdict, tier = cl.draw_line(rng, order="task", letters="after")
        if tier == "judge":
            proposal, fact = prompt[len("Is it "):-1].split("? It is ")
            assert (fact == proposal) == (verdict == "yes")
        else:
            listed, fact = prompt[:-1].split(" Which? It is ")
            options = [o.rsplit(" (", 1)[0].lstrip(") ") for o in listed.split(")")[:-1]]
            assert len(options) == 5 and options.count(fact) == 1
            assert f"{fact} ({verdict})" in listed


def test_echo_restates_the_fact_as_its_option_is_written_and_the_letter_follows_bare(micro):
    _, processor = micro
    tokenizer = processor.tokenizer
    rng = random.Random(3)
    lines = [cl.draw_line(rng, order="task", letters="echo") for _ in range(40)]
    choices = [line for line in lines if line[2] == "choice"]
    assert choices
    for prompt, verdict, _ in choices:
        listed, fact = prompt[:-len(" (")].split(" Which? It is ")
        assert f"{fact} ({verdict})" in listed
        assert cl.spoken(prompt, verdict) == verdict
    for prompt, verdict, tier in lines:
        if tier == "judge":
            assert cl.spoken(prompt, verdict) == f" {verdict}"
    _, labels = cp.encode(tokenizer, lines)
    kept = [tokenizer.decode([t]) for t in labels if t != -100]
    assert kept == [cl.spoken(p, v) for p, v, _ in lines]


def test_kinds_limit_the_facts_to_the_forms_asked_for():
    rng = random.Random(4)
    for _ in range(100):
        prompt, _, tier = cl.draw_line(rng, order="task", kinds=("number",))
        fact = prompt.rsplit("It is ", 1)[1].rstrip(".")
        assert fact.isdigit()


def test_every_training_step_uses_the_loss_asked_for(micro, monkeypatch):
    import copy

    model, processor = micro
    model = copy.deepcopy(model)
    asked = []
    real = cp.encode

    def spy(tokenizer, lines, loss="verdict"):
        asked.append(loss)
        return real(tokenizer, lines, loss)

    monkeypatch.setattr(cp, "encode", spy)
    held = [cl.draw_line(random.Random(300 + i)) for i in range(4)]
    cp.train(model, processor.tokenizer, steps=3, lr=1e-3, sequences=2, lines=2, every=3,
             seed=0, held_out=held, log=lambda *a, **k: None, loss="all")
    assert asked == ["all"] * 6


def test_length_rule_scores_the_shortcut_of_comparing_lengths():
    lines = [("Is it 7? It is 5.", "no", "judge"),      # same length, different: rule says yes
             ("Is it 12? It is 5.", "no", "judge"),     # lengths differ: rule says no
             ("It is 3. Is it 3?", "yes", "judge"),     # fact first, equal: yes
             ("A. 1 B. 2 Which? It is 1.", "A", "choice")]
    assert probe.judge_parts(lines[0][0]) == ("5", "7")
    assert probe.judge_parts(lines[2][0]) == ("3", "3")
    assert probe.length_rule(lines) == round(100 * 2 / 3, 1)
    rng = random.Random(6)
    for order in ("fact-first", "task"):
        for _ in range(50):
            prompt, verdict, tier = cl.draw_line(rng, order=order)
            if tier == "judge":
                fact, proposal = probe.judge_parts(prompt)
                assert (fact == proposal) == (verdict == "yes")


def test_same_length_negatives_defeat_the_length_rule():
    rng = random.Random(7)
    lines = [cl.draw_line(rng, order="task", letters="echo", kinds=("number",),
                             negatives="same-length") for _ in range(300)]
    judges = [line for line in lines if line[2] == "judge"]
    for prompt, verdict, _ in judges:
        fact, proposal = probe.judge_parts(prompt)
        assert len(fact) == len(proposal) and (fact == proposal) == (verdict == "yes")
    assert 35 < probe.length_rule(lines) < 65   # "yes" every time: right only on the yes half
    for prompt, verdict, tier in lines:
        if tier == "choice":
            listed, fact = prompt[:-len(" (")].split(" Which? It is ")
            options = [o.rsplit(" (", 1)[0].lstrip(") ") for o in listed.split(")")[:-1]]
            assert all(len(o) == len(fact) for o in options)
    # a form with no same-length alternative still yields a different fact
    assert cl.same_length_fact(random.Random(0), "star", "shapes") != "star"


def test_length_chooser_expects_one_over_the_same_length_options():
    lines = [("5 (A) 12 (B) 7 (C) 19 (D) 20 (E) Which? It is 5 (", "A", "choice"),  # 5, 7
             ("5 (A) 12 (B) 7 (C) 19 (D) 20 (E) Which? It is 12.", "B", "choice"),  # 3 long
             ("Is it 7? It is 5.", "no", "judge")]
    assert probe.length_chooser(lines) == round(100 * (1 / 2 + 1 / 3) / 2, 1)


def test_number_tokens_make_every_number_one_token_and_the_model_reads_them():
    import torch

    model, processor = probe.starting_model("random-micro", 0, number_tokens=True)
    tokenizer = processor.tokenizer
    ids = tokenizer("Is it [3, 45, 102, 7]? It is 111.", add_special_tokens=False)["input_ids"]
    pieces = [tokenizer.decode([i]) for i in ids]
    assert [p for p in pieces if p.isdigit()] == ["3", "45", "102", "7", "111"]
    assert model(input_ids=torch.tensor([ids])).logits.shape[-1] >= max(ids) + 1
    digits = probe.starting_model("random-micro", 0)[1].tokenizer
    assert "45" not in [digits.decode([i]) for i in
                        digits("It is 45.", add_special_tokens=False)["input_ids"]]


def test_a_saved_model_starts_the_next_run_where_the_last_one_ended(tmp_path):
    held = [cl.draw_line(random.Random(300 + i), order="task", letters="echo")
            for i in range(40)]
    model, processor = probe.starting_model("random-micro", 0, number_tokens=True)
    cp.train(model, processor.tokenizer, steps=3, lr=1e-2, sequences=2, lines=3, every=3,
                seed=0, held_out=held, log=lambda *a, **k: None)
    probe.save(model, processor, str(tmp_path))
    again, reloaded = probe.starting_model(str(tmp_path), 0)
    assert len(reloaded.tokenizer) == len(processor.tokenizer)  # the number tokens came along
    assert (cp.accuracy(again, reloaded.tokenizer, held)
            == cp.accuracy(model, processor.tokenizer, held))


def test_among_verdicts_scores_the_comparison_of_a_model_whose_format_drifted(micro):
    """A model whose likeliest next token is never a verdict scores 0 by the plain rule; among
    the verdicts it prefers "yes" and "A", so it scores the share of lines whose verdict that is."""
    import torch

    tokenizer = micro[1].tokenizer
    layout = {"order": "task", "letters": "echo"}
    held = [cl.draw_line(random.Random(300 + i), **layout) for i in range(80)]
    ranking = {tokenizer(text, add_special_tokens=False)["input_ids"][0]: score
               for text, score in ((" yes", 3.0), (" no", 2.0), ("A", 3.0), ("B", 2.0),
                                   ("C", 1.0), (" The", 9.0))}

    class Drifted:
        def __call__(self, input_ids, attention_mask):
            logits = torch.zeros(*input_ids.shape, len(tokenizer))
            for token, score in ranking.items():
                logits[..., token] = score
            return type("Out", (), {"logits": logits})()

        def eval(self):
            pass

        def train(self):
            pass

    plain = cp.accuracy(Drifted(), tokenizer, held)
    among = cp.accuracy(Drifted(), tokenizer, held, among_verdicts=True)
    assert plain["judge"] == 0 and plain["choice"] == 0
    for tier, best in (("judge", "yes"), ("choice", "A")):
        mine = [v for _, v, t in held if t == tier]
        assert among[tier] == round(100 * mine.count(best) / len(mine), 1) > 0
