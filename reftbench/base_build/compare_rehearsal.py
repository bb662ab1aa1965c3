"""Keep the comparison alive through the base build's later phases: a rehearsal batch per step.

The comparison phase (reftbench/base_build/compare_pretrain.py) teaches the language model to compare a
stated fact with a proposal, but the box warm-up and the mixture that follow erase it: scored on
the phase's own held-out lines (the verdict tokens alone), a model right on 100% of yes/no lines
after the phase is at 49% after the mixture, as is a base built without the phase
(results/notebook/comparison-builds.md). The mixture's own judge and choice records (about 20
verdicts a step, each after the gold fact) neither keep it nor teach it.

So, when `compare_rehearsal` is on, every training step of the box warm-up and of the mixture
adds the language-model loss of one more, text-only batch of the comparison phase's own lines
(same layout, the fact forms of `compare_kinds`, loss on every token) to the step's loss,
weight 1. No image enters that batch, so only the language model learns from it. Lines are
drawn from the seed and the step number, so a resumed build draws the same ones.

The lines alone keep the comparison but do not route it into the tasks' own chat form: after
a build with them, a model handed the gold fact still answers math's judge questions at chance
(results/notebook/comparison-builds.md). So `compare_chat` adds a second text-only batch: the
mixture's own judge and choice questions, without their images, each answered after the gold
fact, with the loss on the verdict, the closing tag and the end of turn alone (the fact cannot
be known without the image, so it is given, never trained).
"""

from __future__ import annotations

import random

from reftbench.base_build.compare_lines import KINDS, draw_line


def rehearsal_batch(tokenizer, step: int, seed: int, sequences: int, lines: int,
                    kinds: tuple[str, ...] = KINDS):
    """(input_ids, attention_mask, labels): `sequences` sequences of `lines` comparison lines
    of the fact forms `kinds` in the comparison phase's layout, drawn from (seed, step);
    labels are every token."""
    from reftbench.base_build.compare_pretrain import PHASE_LAYOUT, batch, encode

    rng = random.Random(seed * 1_000_003 + step)
    layout = {**PHASE_LAYOUT, "kinds": kinds}
    return batch(tokenizer, [encode(tokenizer, [draw_line(rng, **layout) for _ in range(lines)],
                                    loss="all") for _ in range(sequences)])


def given_fact(sample: dict) -> str:
    """A judge or choice question's gold completion up to its verdict."""
    return f"<think>{sample['think']}</think><answer>"


def verdict_target(sample: dict, tokenizer) -> str:
    """What follows `given_fact`: the verdict, the closing tag and the end of the turn (so a
    model trained on it still stops)."""
    return f"{sample['answer']}</answer>{tokenizer.eos_token}"


def chat_batch(processor, rows: list[dict], step: int, seed: int, sequences: int):
    """(input_ids, attention_mask, labels): `sequences` judge/choice `rows` drawn from
    (seed, step), each a text-only chat turn answered after its gold fact; labels are the
    verdict, the closing tag and the end of turn alone."""
    from reftbench.base_build.compare_pretrain import batch
    from reftbench.prompts import build_messages

    rng = random.Random(f"chat-{seed}-{step}")
    tokenizer = processor.tokenizer
    encoded = []
    for _ in range(sequences):
        row = rows[rng.randrange(len(rows))]
        prompt = processor.apply_chat_template(build_messages(row, image=False), tokenize=False,
                                               add_generation_prompt=True) + given_fact(row)
        head = tokenizer(prompt, add_special_tokens=False)["input_ids"]
        tail = tokenizer(verdict_target(row, tokenizer), add_special_tokens=False)["input_ids"]
        encoded.append((head + tail, [-100] * len(head) + tail))
    return batch(tokenizer, encoded)


def with_rehearsal(trainer_cls, seed: int, sequences: int, lines: int,
                   chat_rows: tuple | list = (), chat_sequences: int = 0,
                   kinds: tuple[str, ...] = KINDS):
    """A subclass of the TRL trainer `trainer_cls` whose training loss adds, at every step,
    the language-model loss of a batch of `sequences` comparison lines of the fact forms
    `kinds` (if any) and of `chat_sequences` text-only judge/choice turns of `chat_rows` (if
    any). Its log rows carry those losses as `rehearsal_loss` and `chat_loss`; their `loss`
    is the sum, their token accuracy and entropy the trainer's own batch's."""

    def batches(trainer):
        step = trainer.state.global_step
        if sequences:
            yield "rehearsal_loss", rehearsal_batch(trainer.processing_class.tokenizer, step,
                                                    seed, sequences, lines, kinds)
        if chat_sequences:
            yield "chat_loss", chat_batch(trainer.processing_class, chat_rows, step, seed,
                                          chat_sequences)

    class Rehearsing(trainer_cls):
        _extra_losses: dict[str, list[float]] = {}  # a fresh class, so a fresh dict, per call

        def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
            result = super().compute_loss(model, inputs, return_outputs=return_outputs,
                                          num_items_in_batch=num_items_in_batch)
            if not model.training:
                return result
            device = next(model.parameters()).device
            loss = result[0] if return_outputs else result
            for name, (ids, mask, labels) in batches(self):
                extra = model(input_ids=ids.to(device), attention_mask=mask.to(device),
                              labels=labels.to(device)).loss
                self._extra_losses.setdefault(name, []).append(extra.item())
                loss = loss + extra
            return (loss, result[1]) if return_outputs else loss

        def log(self, logs, *args, **kwargs):
            # The extra losses beside the trainer's own, averaged since the last log row.
            if "loss" in logs:
                for name, losses in self._extra_losses.items():
                    if losses:
                        logs[name] = round(sum(losses) / len(losses), 4)
                        losses.clear()
            return super().log(logs, *args, **kwargs)

    Rehearsing.__name__ = f"Rehearsing{trainer_cls.__name__}"
    return Rehearsing
