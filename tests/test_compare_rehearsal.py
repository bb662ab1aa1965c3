"""The base build's comparison rehearsal: a text-only batch of comparison lines every step."""

import json
from types import SimpleNamespace

import pytest
import torch
from typer.testing import CliRunner

from reftbench.cli import app
from reftbench.base_build.compare_rehearsal import chat_batch, rehearsal_batch, with_rehearsal
from reftbench.data.generated import load_split
from reftbench.model.load import load_model
from reftbench.model.names import resolve_model


@pytest.fixture(scope="module")
def micro():
    return load_model(resolve_model("random-micro"))


def test_batches_are_drawn_from_seed_and_step_and_train_every_real_token(micro):
    tokenizer = micro[1].tokenizer
    ids, mask, labels = rehearsal_batch(tokenizer, step=3, seed=0, sequences=3, lines=4)
    again, _, _ = rehearsal_batch(tokenizer, step=3, seed=0, sequences=3, lines=4)
    other, _, _ = rehearsal_batch(tokenizer, step=4, seed=0, sequences=3, lines=4)
    assert ids.shape[0] == 3 and torch.equal(ids, again)  # a resumed step draws the same lines
    assert not (other.shape == ids.shape and torch.equal(other, ids))
    assert torch.equal(labels[mask == 1], ids[mask == 1]) and (labels[mask == 0] == -100).all()
    text = tokenizer.decode(ids[0][mask[0] == 1])
    assert text.count("\n") == 4 and "It is" in text


def test_batches_hold_only_the_fact_forms_asked_for(micro):
    from reftbench.base_build.compare_lines import SHAPES, kind_of

    tokenizer = micro[1].tokenizer
    for kinds in (("number",), ("box", "number")):
        ids, mask, _ = rehearsal_batch(tokenizer, 7, 0, 4, 6, kinds)
        lines = [line for row, keep in zip(ids, mask)
                 for line in tokenizer.decode(row[keep == 1]).splitlines()]
        assert len(lines) == 24 and {kind_of(line) for line in lines} <= set(kinds)
        assert not any(shape in line for line in lines for shape in SHAPES)
    both, _, _ = rehearsal_batch(tokenizer, 7, 0, 4, 6, ("box", "number"))
    every, _, _ = rehearsal_batch(tokenizer, 7, 0, 4, 6)
    assert not (both.shape == every.shape and torch.equal(both, every))


class _Trainer:
    """Stands in for a TRL trainer: a fixed step loss, a step counter, a logger."""

    def __init__(self, processor):
        self.processing_class = processor
        self.state = SimpleNamespace(global_step=5)
        self.logged = []

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        loss = torch.tensor(1.0)
        return (loss, "outputs") if return_outputs else loss

    def log(self, logs, *args, **kwargs):
        self.logged.append(dict(logs))


def test_training_steps_add_the_rehearsal_loss_and_log_it(micro):
    model, processor = micro
    trainer = with_rehearsal(_Trainer, seed=0, sequences=2, lines=3)(processor)
    ids, mask, labels = rehearsal_batch(processor.tokenizer, 5, 0, 2, 3)
    model.train()
    with torch.no_grad():
        expected = model(input_ids=ids, attention_mask=mask, labels=labels).loss.item()
        loss = trainer.compute_loss(model, {})
        with_outputs = trainer.compute_loss(model, {}, return_outputs=True)
    assert loss.item() == pytest.approx(1.0 + expected, rel=1e-5)
    assert with_outputs[1] == "outputs" and with_outputs[0].item() == pytest.approx(loss.item())
    trainer.log({"loss": 2.0})
    assert trainer.logged[-1]["rehearsal_loss"] == pytest.approx(expected, abs=1e-3)
    trainer.log({"loss": 2.0})  # nothing rehearsed since the last row: no stale figure
    assert "rehearsal_loss" not in trainer.logged[-1]
    model.eval()  # evaluation losses stay the trainer's own
    with torch.no_grad():
        assert trainer.compute_loss(model, {}).item() == 1.0
    model.train()


def _questions():
    return load_split("general", "train", n=6, seed=0, tiers=("judge", "choice"))


def test_chat_batches_are_text_only_questions_trained_on_the_verdict_after_the_gold_fact(micro):
    processor = micro[1]
    tokenizer = processor.tokenizer
    rows = _questions()
    ids, mask, labels = chat_batch(processor, rows, step=2, seed=0, sequences=5)
    again, _, _ = chat_batch(processor, rows, step=2, seed=0, sequences=5)
    assert ids.shape[0] == 5 and torch.equal(ids, again)  # a resumed step draws the same rows
    for i in range(5):
        text = tokenizer.decode(ids[i][mask[i] == 1])
        row = next(r for r in rows if r["question"] in text)
        assert "<|image_pad|>" not in text and "<|vision_start|>" not in text
        assert text.endswith(f"<think>{row['think']}</think><answer>{row['answer']}</answer>"
                             f"{tokenizer.eos_token}")
        trained = tokenizer.decode(labels[i][labels[i] != -100])
        assert trained == f"{row['answer']}</answer>{tokenizer.eos_token}"  # never the fact


def test_chat_rehearsal_alone_adds_its_loss_and_logs_it_under_its_own_name(micro):
    model, processor = micro
    rows = _questions()
    trainer = with_rehearsal(_Trainer, seed=0, sequences=0, lines=3, chat_rows=rows,
                             chat_sequences=3)(processor)
    ids, mask, labels = chat_batch(processor, rows, 5, 0, 3)
    model.train()
    with torch.no_grad():
        expected = model(input_ids=ids, attention_mask=mask, labels=labels).loss.item()
        loss = trainer.compute_loss(model, {})
    assert loss.item() == pytest.approx(1.0 + expected, rel=1e-5)
    trainer.log({"loss": 2.0})
    assert trainer.logged[-1]["chat_loss"] == pytest.approx(expected, abs=1e-3)
    assert "rehearsal_loss" not in trainer.logged[-1]


def test_a_micro_build_rehearses_lines_and_chat_in_warm_up_and_mixture(tmp_path, monkeypatch):
    monkeypatch.setenv("REFTBENCH_HOME", str(tmp_path / "home"))
    out = tmp_path / "base"
    result = CliRunner().invoke(app, [
        "base", "--model", "random-micro", "--sft_steps", "2", "--sft_batch_size", "2",
        "--n_general", "12", "--n_test", "10", "--vision_steps", "0", "--freeze_vision", "false",
        "--locate_steps", "1", "--locate_scenes", "40", "--logging_steps", "1",
        "--compare_rehearsal", "2", "--compare_lines", "2", "--compare_chat", "2",
        "--output", str(out)])
    assert result.exit_code == 0, result.output
    for log in ("locate_metrics.jsonl", "metrics.jsonl"):
        rows = [json.loads(line) for line in (out / log).read_text().splitlines()]
        assert any(row.get("rehearsal_loss", 0) > 0 for row in rows), log
        assert any(row.get("chat_loss", 0) > 0 for row in rows), log
