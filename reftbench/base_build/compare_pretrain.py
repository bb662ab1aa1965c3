"""Train the language model alone to compare: text-only lines from reftbench/base_build/compare_lines.py.

The base build's comparison phase (reftbench/base_build/recipe.py) runs `pretrain_compare` between
the vision phase and the box warm-up. No image enters, so the vision tower and its merger get
no gradient and leave unchanged (AdamW skips parameters without one); only the language model
learns. Each stage draws fresh lines from its seed, with a fresh optimiser (AdamW, constant
learning rate after a 5% warm-up), and is saved, so an interrupted phase resumes at the last
finished stage. experiments/text_compare_probe.py runs the same loop with other layouts.
"""

from __future__ import annotations

import random
import time
from pathlib import Path

from reftbench import fileio
from reftbench.base_build.compare_lines import draw_line, held_out_lines, kind_of, spoken


def encode(tokenizer, lines: list[tuple[str, str, str]],
           loss: str = "verdict") -> tuple[list[int], list[int]]:
    """(input ids, labels) of lines joined into one sequence. loss "verdict": labels keep each
    verdict's first token and ignore (-100) everything else; "all": every token is a target
    (language modelling), so restating an option's text is trained too, the in-sequence
    copying from which induction heads form."""
    ids: list[int] = []
    labels: list[int] = []
    for prompt, verdict, _ in lines:
        head = tokenizer(prompt, add_special_tokens=False)["input_ids"]
        tail = tokenizer(spoken(prompt, verdict) + "\n", add_special_tokens=False)["input_ids"]
        ids += head + tail
        labels += [-100] * len(head) + tail[:1] + [-100] * (len(tail) - 1)
    return ids, (list(ids) if loss == "all" else labels)


def batch(tokenizer, sequences: list[tuple[list[int], list[int]]]):
    """Right-padded tensors (input_ids, attention_mask, labels)."""
    import torch

    width = max(len(ids) for ids, _ in sequences)
    pad = tokenizer.pad_token_id
    ids = torch.tensor([s + [pad] * (width - len(s)) for s, _ in sequences])
    labels = torch.tensor([lab + [-100] * (width - len(lab)) for _, lab in sequences])
    lengths = torch.tensor([len(s) for s, _ in sequences])
    mask = (torch.arange(width)[None] < lengths[:, None]).long()
    return ids, mask, labels


# The verdicts a line can have, per tier: what `accuracy(..., among_verdicts=True)` picks from.
VERDICTS = {"judge": ("yes", "no"), "choice": ("A", "B", "C", "D", "E")}


def accuracy(model, tokenizer, lines: list[tuple[str, str, str]],
             shots: list[tuple[str, str, str]] = (),
             among_verdicts: bool = False) -> dict[str, float]:
    """Tier -> % of lines whose greedy next token after the prompt is the verdict's first,
    and "tier/kind" -> the same per fact form (box, number, shapes); `shots` (solved lines)
    come first in every prompt, in the training layout (in-context). `among_verdicts` picks
    the likeliest of the tier's possible verdicts (VERDICTS) instead of the likeliest token,
    so a model whose next token has drifted to another format is still scored on its
    comparison (chance: 50% and 20%)."""
    import torch

    hits: dict[str, list[int]] = {}
    prefix = "".join(f"{p}{spoken(p, v)}\n" for p, v, _ in shots)

    def first_token(prompt: str, verdict: str) -> int:
        return tokenizer(spoken(prompt, verdict), add_special_tokens=False)["input_ids"][0]

    model.eval()
    with torch.no_grad():
        for start in range(0, len(lines), 100):
            chunk = lines[start:start + 100]
            prompts = [tokenizer(prefix + p, add_special_tokens=False)["input_ids"]
                       for p, _, _ in chunk]
            ids, mask, _ = batch(tokenizer, [(p, p) for p in prompts])
            logits = model(input_ids=ids, attention_mask=mask).logits
            last = mask.sum(1) - 1
            scores = logits[torch.arange(len(chunk)), last]
            for (prompt, verdict, tier), row in zip(chunk, scores):
                first = first_token(prompt, verdict)
                if among_verdicts:
                    options = [first_token(prompt, v) for v in VERDICTS[tier]]
                    guess = options[int(row[options].argmax())]
                else:
                    guess = int(row.argmax())
                for key in (tier, f"{tier}/{kind_of(prompt)}"):
                    cell = hits.setdefault(key, [0, 0])
                    cell[0] += int(guess == first)
                    cell[1] += 1
    model.train()
    return {tier: round(100 * a / n, 1) for tier, (a, n) in sorted(hits.items())}


def train(model, tokenizer, steps: int, lr: float, sequences: int, lines: int, every: int,
          seed: int, held_out: list, log=print, layout: dict | None = None,
          loss: str = "verdict", on_step=None) -> tuple[list[list], dict[str, float]]:
    """AdamW, constant lr after a 5% warm-up; (rows [step, seconds, mean loss, judge %,
    choice %], the last scores by tier and by tier/kind). `on_step(step, loss)` is called
    after every step (a progress bar); it does not change what is trained."""
    import torch

    torch.manual_seed(seed)
    rng = random.Random(seed + 1)
    model.train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr)
    warmup = max(1, steps // 20)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: min(1.0, (s + 1) / warmup))
    start, losses = time.time(), []
    scores = accuracy(model, tokenizer, held_out)
    rows = [[0, 0, "-", scores.get("judge"), scores.get("choice")]]
    for step in range(1, steps + 1):
        drawn = [encode(tokenizer, [draw_line(rng, **(layout or {})) for _ in range(lines)],
                        loss) for _ in range(sequences)]
        ids, mask, labels = batch(tokenizer, drawn)
        step_loss = model(input_ids=ids, attention_mask=mask, labels=labels).loss
        step_loss.backward()
        optimizer.step()
        schedule.step()
        optimizer.zero_grad()
        losses.append(step_loss.item())
        if on_step:
            on_step(step, losses[-1])
        if step % every == 0 or step == steps:
            scores = accuracy(model, tokenizer, held_out)
            rows.append([step, round(time.time() - start), round(sum(losses) / len(losses), 4),
                         scores.get("judge"), scores.get("choice")])
            log(*rows[-1], flush=True)
            losses = []
    return rows, scores


# The phase's layout: the fact after the proposal or options (where the tasks' completions
# state it), options listed "x (A)" with the fact restated "It is x (" before the letter, the
# loss on every token, wrong proposals as long as the fact. Chosen on held-out synthetic
# lines (results/notebook/comparison-from-text.md), never on a benchmark split.
PHASE_LAYOUT = {"order": "task", "letters": "echo", "negatives": "same-length"}
# A stage's log, in its folder; the phase's log (all finished stages) has the same name.
STAGE_LOG = "metrics.jsonl"


def pretrain_compare(start: str, out_dir: Path, stages: list[tuple[tuple[str, ...], int]],
                     lr: float, sequences: int, lines: int, seed: int, progress=None,
                     log=None, held_out: int = 400) -> Path:
    """Train `start`'s language model on comparison lines, one stage per (fact kinds, steps)
    in `stages` (e.g. numbers first, then every form), saving each stage to
    `out_dir/stage<i>`; a saved stage is reused. Returns the last stage's folder.

    Each stage's log rows are kept in its own folder, so a stage killed midway leaves none
    behind; `out_dir/metrics.jsonl` is rewritten from the finished stages' rows at the end.
    `log`, if given, also sees each row as it is made."""
    from reftbench.model.load import load_model

    def stage(i: int, kinds: tuple[str, ...], steps: int, start: str, folder: Path) -> None:
        model, processor = load_model(start)
        layout = {**PHASE_LAYOUT, "kinds": tuple(kinds)}
        task = progress.add_task(f"compare {','.join(kinds)}", total=steps) if progress else None

        def tick(step, loss):
            if task is not None:
                progress.update(task, completed=step,
                                description=f"compare {','.join(kinds)} loss={loss:.3g}")

        def record(step, seconds, mean_loss, judge, choice, flush=True):
            row = {"stage": f"compare{i}", "kinds": list(kinds), "step": step,
                   "seconds": seconds, "loss": mean_loss, "heldout_judge": judge,
                   "heldout_choice": choice}
            fileio.append_jsonl(folder / STAGE_LOG, [row])
            if log:
                log(row)

        train(model, processor.tokenizer, steps, lr, sequences, lines, max(1, steps // 8), seed,
              held_out_lines(seed, held_out, layout), log=record, layout=layout, loss="all",
              on_step=tick)
        model.save_pretrained(folder, safe_serialization=True)
        processor.save_pretrained(folder)
        fileio.follow_umask_tree(folder)  # safetensors writes the weights 0600

    current = str(start)
    for i, (kinds, steps) in enumerate(stages):
        # Written to a temporary folder and renamed into place: a killed stage leaves nothing
        # that looks finished.
        folder = fileio.build_once(
            Path(out_dir) / f"stage{i}", lambda f: (f / "config.json").exists(),
            lambda tmp, i=i, kinds=kinds, steps=steps, start=current:
                stage(i, kinds, steps, start, tmp))
        current = str(folder)
    rows = [row for i in range(len(stages))
            for row in fileio.read_jsonl(Path(out_dir) / f"stage{i}" / STAGE_LOG)]
    fileio.write_atomic(Path(out_dir) / STAGE_LOG, fileio.dumps_jsonl(rows))
    return Path(current)
