"""Can the model compare? Judge and choice accuracy with the checked fact handed to it.

Every gold judge/choice completion states the checked fact first ("<think>It is 7.</think>")
and then answers. This script scores judge and choice questions of held-back train scenes
(scenes `--from` to `--from + --scenes` of each family's train split, which no trainer reads
by default) two ways, with the project's one scorer:

- free: the model writes the whole completion (perception and comparison);
- given fact: the completion starts with the gold `<think>It is ...</think><answer>` and the
  model only writes the verdict (comparison alone: a model that compares scores 100%).

With `--steps N` it first fine-tunes the model for N steps on the judge and choice records of
the general mixture's own train scenes (a comparison phase: TRL SFT on the whole gold
completion, or with `--verdict-only` a plain torch loop whose loss is on the verdict alone,
after the gold fact), then scores the result too.

    python experiments/compare_probe.py                      # the base
    python experiments/compare_probe.py --steps 2000 --verdict-only

Adds the table to results/notebook/comparison-in-the-base.md (`--notebook` names another
question's file; `--no-append` only prints).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import output_options, report  # noqa: E402
from reftbench.base_build.compare_rehearsal import given_fact, verdict_target  # noqa: E402
from reftbench.model.names import resolve_model  # noqa: E402
from reftbench.samples import FAMILIES  # noqa: E402


def questions(first: int, scenes: int, seed: int) -> list[dict]:
    """Judge and choice questions of train scenes [first, first + scenes) of every family."""
    from reftbench.data.generated import load_split

    out = []
    for family in FAMILIES:
        rows = load_split(family, "train", n=first + scenes, seed=seed, tiers=("judge", "choice"))
        out += [r for r in rows if int(r["base_id"].rsplit("-", 1)[1]) >= first]
    return out


def score_model(model: str, samples: list[dict]) -> dict:
    """(family, tier) -> (free %, given-fact %), greedy."""
    from reftbench.data.generated import load_image
    from reftbench.generation.decoding import Sampling
    from reftbench.generation.backends import TransformersBackend
    from reftbench.model.load import load_model
    from reftbench.prompts import build_messages
    from reftbench.scoring.rewards import score

    class Prefixed(TransformersBackend):
        """Generation that continues after each sample's `_prefix` ("" for none)."""

        def encode(self, batch):
            texts = [self.processor.apply_chat_template(build_messages(s), tokenize=False,
                                                        add_generation_prompt=True)
                     + s.get("_prefix", "") for s in batch]
            images = [load_image(s["image_path"]) for s in batch]
            return self.processor(text=texts, images=images, padding=True,
                                  return_tensors="pt").to(self.model.device)

    policy, processor = load_model(model)
    backend = Prefixed(policy.eval(), processor, batch_size=64)
    free = backend.generate(samples, Sampling(max_new_tokens=48))
    forced = backend.generate([dict(s, _prefix=given_fact(s)) for s in samples],
                              Sampling(max_new_tokens=8))
    out: dict = {}
    for s, f, g in zip(samples, free, forced):
        cell = out.setdefault((s["family"], s["tier"]), [0, 0, 0])
        cell[0] += score(s, f[0])["strict"]
        # The verdict alone is scored: whatever follows its closing tag is cut off.
        cell[1] += score(s, given_fact(s) + g[0].split("</answer>")[0] + "</answer>")["strict"]
        cell[2] += 1
    return {key: (round(100 * a / n, 1), round(100 * b / n, 1)) for key, (a, b, n) in out.items()}


def comparison_phase(model: str, steps: int, lr: float, batch: int, scenes: int,
                     out: Path) -> str:
    """Fine-tune on the general mixture's judge and choice records; the saved model's path."""
    from reftbench.base_build.recipe import BaseConfig
    from reftbench.data.generated import load_split
    from reftbench.training.datasets import sft_dataset
    from reftbench.training.sft_stage import run_sft

    # The base build's own settings (cosine schedule); one checkpoint, at the end.
    cfg = BaseConfig(lr_scheduler="cosine", save_steps=steps, logging_steps=25, evaluate=False)
    rows = load_split("general", "train", n=scenes, seed=0, tiers=("judge", "choice"))
    data = sft_dataset(rows).shuffle(seed=0)
    return str(run_sft(cfg, model, data, out, steps, lr, batch, "compare"))


def verdict_labels(inputs: dict, targets: list[str], tokenizer):
    """Labels for right-padded `inputs` that keep only each row's last tokens, those of its
    `targets` text (-100, ignored, everywhere else)."""
    labels = inputs["input_ids"].clone()
    for i, target in enumerate(targets):
        full = int(inputs["attention_mask"][i].sum())
        keep = len(tokenizer(target, add_special_tokens=False)["input_ids"])
        labels[i, :full - keep] = -100
        labels[i, full:] = -100
    return labels


def verdict_phase(model: str, steps: int, lr: float, batch: int, scenes: int, out: Path,
                  text_only: bool = False) -> str:
    """Fine-tune with the loss on the verdict alone (after the gold fact, as in `given_fact`);
    the saved model's path. A plain torch loop: TRL's SFT puts the loss on the whole completion.
    `text_only` leaves the images out (the verdict follows from the question and the stated
    fact alone), so only the language model learns, from the same words."""
    import torch

    from reftbench.data.generated import load_image, load_split
    from reftbench.model.load import load_model
    from reftbench.prompts import build_messages

    torch.manual_seed(0)
    policy, processor = load_model(model)
    policy.train()
    tokenizer = processor.tokenizer
    tokenizer.padding_side = "right"
    rows = load_split("general", "train", n=scenes, seed=0, tiers=("judge", "choice"))
    order = torch.randperm(len(rows)).tolist()
    optimizer = torch.optim.AdamW([p for p in policy.parameters() if p.requires_grad], lr=lr)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, steps)
    recent: list[float] = []
    for step in range(steps):
        chunk = [rows[order[(step * batch + i) % len(rows)]] for i in range(batch)]
        prompts = [processor.apply_chat_template(build_messages(s, image=not text_only),
                                                 tokenize=False, add_generation_prompt=True)
                   + given_fact(s) for s in chunk]
        targets = [verdict_target(s, tokenizer) for s in chunk]
        images = None if text_only else [load_image(s["image_path"]) for s in chunk]
        inputs = processor(text=[p + t for p, t in zip(prompts, targets)], images=images,
                           padding=True, return_tensors="pt")
        loss = policy(**inputs, labels=verdict_labels(inputs, targets, tokenizer)).loss
        loss.backward()
        optimizer.step()
        schedule.step()
        optimizer.zero_grad()
        recent.append(loss.item())
        if (step + 1) % 50 == 0 or step == steps - 1:
            print(f"verdict steps {step + 1 - len(recent)}-{step}: mean loss "
                  f"{sum(recent) / len(recent):.4f}", flush=True)
            recent = []
    policy.save_pretrained(out / "verdict")
    processor.save_pretrained(out / "verdict")
    return str(out / "verdict")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="base")
    parser.add_argument("--from", dest="first", type=int, default=2500)
    parser.add_argument("--scenes", type=int, default=100, help="scenes per family")
    parser.add_argument("--steps", type=int, default=0, help="comparison-phase steps (0: none)")
    parser.add_argument("--verdict-only", action="store_true",
                        help="the comparison phase puts its loss on the verdict alone")
    parser.add_argument("--text-only", action="store_true",
                        help="with --verdict-only: train on the questions without their images")
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--general-scenes", type=int, default=24000)
    parser.add_argument("--keep", type=Path, help="save the fine-tuned model here (default: "
                        "a temporary folder, deleted)")
    output_options(parser, notebook="comparison-in-the-base")
    args = parser.parse_args()
    if args.text_only and not args.verdict_only:
        parser.error("--text-only needs --verdict-only")

    samples = questions(args.first, args.scenes, seed=0)
    models = {args.model: resolve_model(args.model)}
    seconds = 0.0
    with tempfile.TemporaryDirectory() as tmp:
        where = args.keep or Path(tmp)
        if args.steps:
            start = time.time()
            kind = "verdict-only" if args.verdict_only else "comparison"
            kind += " text-only" if args.text_only else ""
            phase_args = (models[args.model], args.steps, args.lr, args.batch,
                          args.general_scenes, where)
            models[f"+ {args.steps} {kind} steps"] = (
                verdict_phase(*phase_args, text_only=args.text_only) if args.verdict_only
                else comparison_phase(*phase_args))
            seconds = time.time() - start
        rows = []
        for label, path in models.items():
            scores = score_model(path, samples)
            for (family, tier), (free, forced) in sorted(scores.items()):
                rows.append([label, family, tier, free, forced])
                print(label, family, tier, free, forced, flush=True)
    notes = [f"{args.scenes} scenes per family from train scene {args.first} (held back), greedy; "
             "chance: judge 50%, choice 20% (classification: any subset of five letters)"]
    if args.steps:
        kind = ("loss on the verdict alone, after the gold fact" if args.verdict_only
                else "TRL SFT, loss on the whole gold completion")
        kind += ", questions without their images" if args.text_only else ""
        notes.append(f"comparison phase ({kind}): {args.steps} steps of {args.batch} at lr {args.lr} on the "
                     f"judge/choice records of {args.general_scenes} general train scenes, "
                     f"{seconds:.0f} s")
    report("Comparison with the fact given", ["model", "family", "tier", "free %",
                                               "given fact %"], rows, notes=notes,
           append=not args.no_append,
           notebook=args.notebook)


if __name__ == "__main__":
    main()
