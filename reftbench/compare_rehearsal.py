"""Keep the comparison alive through the base build's later phases: a rehearsal batch per step.

The comparison phase (reftbench/compare_pretrain.py) teaches the language model to compare a
stated fact with a proposal, but the box warm-up and the mixture that follow erase it: scored on
the phase's own held-out lines (the verdict tokens alone), a model right on 100% of yes/no lines
after the phase is at 49% after the mixture, as is a base built without the phase
(results/PERF.md). The mixture's own judge and choice records (about 20 verdicts a step, each
after the gold fact) neither keep it nor teach it.

So, when `compare_rehearsal` is on, every training step of the box warm-up and of the mixture
adds the language-model loss of one more, text-only batch of the comparison phase's own lines
(same layout, every fact form, loss on every token) to the step's loss, weight 1. No image
enters that batch, so only the language model learns from it. Lines are drawn from the seed
and the step number, so a resumed build draws the same ones.
"""

from __future__ import annotations

import random


def rehearsal_batch(tokenizer, step: int, seed: int, sequences: int, lines: int):
    """(input_ids, attention_mask, labels): `sequences` sequences of `lines` comparison lines
    in the comparison phase's layout, drawn from (seed, step); labels are every token."""
    from reftbench.compare_lines import KINDS, draw_line
    from reftbench.compare_pretrain import PHASE_LAYOUT, batch, encode

    rng = random.Random(seed * 1_000_003 + step)
    layout = {**PHASE_LAYOUT, "kinds": KINDS}
    return batch(tokenizer, [encode(tokenizer, [draw_line(rng, **layout) for _ in range(lines)],
                                    loss="all") for _ in range(sequences)])


def with_rehearsal(trainer_cls, seed: int, sequences: int, lines: int):
    """A subclass of the TRL trainer `trainer_cls` whose training loss adds, at every step,
    the language-model loss of one rehearsal batch. Its log rows carry that loss as
    `rehearsal_loss`; their `loss` is the sum, their token accuracy and entropy the trainer's
    own batch's."""

    class Rehearsing(trainer_cls):
        _rehearsal_losses: list[float] = []  # a fresh class, so a fresh list, per call

        def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
            result = super().compute_loss(model, inputs, return_outputs=return_outputs,
                                          num_items_in_batch=num_items_in_batch)
            if not model.training:
                return result
            ids, mask, labels = rehearsal_batch(self.processing_class.tokenizer,
                                                self.state.global_step, seed, sequences, lines)
            device = next(model.parameters()).device
            extra = model(input_ids=ids.to(device), attention_mask=mask.to(device),
                          labels=labels.to(device)).loss
            self._rehearsal_losses.append(extra.item())
            if return_outputs:
                return result[0] + extra, result[1]
            return result + extra

        def log(self, logs, *args, **kwargs):
            # The rehearsal loss beside the trainer's own, averaged since the last log row.
            if self._rehearsal_losses and "loss" in logs:
                losses = self._rehearsal_losses
                logs["rehearsal_loss"] = round(sum(losses) / len(losses), 4)
                losses.clear()
            return super().log(logs, *args, **kwargs)

    Rehearsing.__name__ = f"Rehearsing{trainer_cls.__name__}"
    return Rehearsing
