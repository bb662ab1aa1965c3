"""Where an answer looks: the share of attention a model's answer tokens give the image tokens.

For each model and open-tier validation question of one family (held-back train-split scenes,
as in experiments/rl_probe.py; never a test split), the greedy completion is generated, then one
forward pass over prompt and completion returns the attention weights; for every token inside
<answer>...</answer>, each layer's attention (mean over heads) on the image tokens is summed.
Printed per model: the strict accuracy of those answers and the mean image share per layer,
for right and wrong answers apart. A model whose answers stop reading the image shows it here.

    python experiments/attention_probe.py --models base,/tmp/chatbase9 --family classification
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import output_options, report  # noqa: E402


def answer_span(pieces: list[str]) -> range:
    """Positions (into `pieces`, the completion's tokens as text) of the tokens that write the
    answer: after the one that completes "<answer>", before the one that starts "</answer>";
    empty if the completion has no answer block."""
    text, ends = "", []
    for piece in pieces:
        text += piece
        ends.append(len(text))
    open_at, close_at = text.find("<answer>"), text.find("</answer>")
    if open_at < 0 or close_at < open_at:
        return range(0)
    start = next(i for i, end in enumerate(ends) if end >= open_at + len("<answer>")) + 1
    stop = next(i for i, end in enumerate(ends) if end > close_at)
    return range(start, max(start, stop))


def image_shares(model_path: str, samples: list[dict], max_new_tokens: int) -> list[dict]:
    """Per sample: strict score and, per layer, the answer tokens' mean attention on the image."""
    import torch

    from reftbench.generation.backends import TransformersBackend
    from reftbench.model.load import load_model
    from reftbench.scoring.rewards import score

    model, processor = load_model(model_path)
    model.set_attn_implementation("eager")  # the fused kernels return no weights
    backend = TransformersBackend(model.eval(), processor, batch_size=1)
    tokenizer, image_id = backend.tokenizer, model.config.image_token_id
    rows = []
    for sample in samples:
        inputs = backend.encode([sample])
        with torch.inference_mode():
            ids = model.generate(**inputs, max_new_tokens=max_new_tokens, do_sample=False)
            out = model(input_ids=ids, attention_mask=torch.ones_like(ids),
                        pixel_values=inputs["pixel_values"],
                        image_grid_thw=inputs["image_grid_thw"], output_attentions=True)
        prompt = inputs["input_ids"].shape[1]
        new = ids[0, prompt:].tolist()
        completion = tokenizer.decode(new, skip_special_tokens=True)
        span = answer_span([tokenizer.decode([t]) for t in new])
        if not len(span):
            continue
        image = ids[0] == image_id
        positions = [prompt + i for i in span]
        shares = [float(layer[0, :, positions][:, :, image].sum(-1).mean())
                  for layer in out.attentions]
        rows.append({"strict": score(sample, completion)["strict"], "shares": shares})
    return rows


def table(results: dict[str, list[dict]]) -> tuple[list[str], list[list]]:
    """Columns and rows: model, answers kept, strict %, which answers (all / right / wrong),
    then the image share % per layer."""
    layers = len(next(iter(results.values()))[0]["shares"])
    columns = ["model", "answers", "strict %", "which"] + [f"layer {i}" for i in range(layers)]
    rows = []
    for name, scored in results.items():
        right = [r for r in scored if r["strict"] == 1.0]
        for label, group in (("all", scored), ("right", right),
                             ("wrong", [r for r in scored if r["strict"] != 1.0])):
            if group:
                rows.append([Path(name).name, len(scored),
                             f"{100 * len(right) / len(scored):.1f}", f"{label} ({len(group)})",
                             *(f"{100 * sum(r['shares'][i] for r in group) / len(group):.1f}"
                               for i in range(layers))])
    return columns, rows


def main() -> None:
    from experiments.rl_probe import validation
    from reftbench.model.names import resolve_model

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", default="base", help="comma-separated models")
    parser.add_argument("--family", default="classification")
    parser.add_argument("--train-scenes", type=int, default=2500)
    parser.add_argument("--val-scenes", type=int, default=100)
    parser.add_argument("--max-new-tokens", type=int, default=48)
    output_options(parser, notebook="comparison-builds")
    args = parser.parse_args()
    samples = validation([args.family], args.train_scenes, args.val_scenes, seed=0)
    results = {name: image_shares(str(resolve_model(name)), samples, args.max_new_tokens)
               for name in args.models.split(",")}
    columns, rows = table(results)
    note = (f"{args.family}: train-split scenes {args.train_scenes}-"
            f"{args.train_scenes + args.val_scenes - 1}, open tier, greedy; share of each "
            "layer's attention (mean over heads) that the answer tokens put on the image "
            "tokens, %")
    report(f"Attention of the answer tokens on the image ({args.family})", columns, rows,
           [note], append=not args.no_append,
           notebook=args.notebook)


if __name__ == "__main__":
    main()
