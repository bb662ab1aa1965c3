"""Can the language model alone learn to compare? Text-only training on synthetic comparisons.

The judge and choice tiers need one skill past perception: comparing the fact the model states
with the proposal in the question ("It is [46, 20, 67, 41]." against "Is the answer [45, 46,
72, 73]?"), or finding the option that equals it. experiments/compare_probe.py found the base at chance
on that even with the fact handed to it. This probe strips the task to the comparison, with no
image: every training sequence holds `--lines` lines such as

    It is [3, 45, 102, 7]. Is it [3, 45, 12, 7]? no
    It is circle, star. A. square B. circle, star C. star D. circle E. hexagon Which? B

with facts in the three families' forms (boxes, numbers, shape lists); a wrong proposal differs
from the fact in one number (or is another random fact), so the whole string must be read. The
loss is on each line's verdict alone: one verdict per line, `--lines` per sequence, far denser
than one per image question. It starts from the base's weights (`--init base`) or the same shape
at random (`--init random`), and scores greedy verdict accuracy on 400 held-out lines per tier
every `--every` steps (chance: judge 50%, choice 20%).

Layouts (`--order`, `--letters`): the lines above state the fact first; `--order task` puts it
after the proposal or options, where the tasks have it (the model states the fact in its
answer). `--letters after` lists options as "[3, 45, 102, 7] (B)"; `--letters echo` also ends
the line as "It is [3, 45, 102, 7] (", so the letter can be copied from the list (the pattern
an induction head completes) instead of looked up behind the option.

`--loss all` trains on every token instead of the verdict alone (language modelling: restating
an option's text after its first token is in-sequence copying, from which induction heads
form). The last scores are also given per fact form (box, number, shapes; `--kinds` trains and
scores one form alone). Each report also gives what the length rule scores on the judge lines
("yes" iff the proposal is as long as the fact): a judge score near it means the model compares
lengths, not contents; `--negatives same-length` draws only wrong proposals and options as
long as the fact, so that shortcut answers nothing. The tokenizer writes numbers digit by digit
(as Qwen's does), so comparing "12" with "17" is comparing token pairs; `--number-tokens` gives
each whole number 0-111 one token, to see whether that is what makes comparison slow to learn.

    python experiments/text_compare_probe.py --init random --steps 2000
    python experiments/text_compare_probe.py --init random-tiny --order task --letters echo --steps 800

Adds the table to results/notebook/comparison-from-text.md (`--notebook` names another
question's file; `--no-append` only prints).
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import output_options, report  # noqa: E402
from reftbench.base_build.compare_lines import KINDS, draw_line, held_out_lines  # noqa: E402
from reftbench.base_build.compare_pretrain import accuracy, train  # noqa: E402

def starting_model(init: str, seed: int, number_tokens: bool = False):
    """(model, processor): the base's weights, a model saved by `--save` (a folder), or a
    preset's shape at random. `number_tokens` gives every whole number 10-111 a token of its own
    (the tokenizer, like Qwen's, writes numbers digit by digit; 0-9 already are single tokens),
    with new random embedding rows, so every number in a fact is one token and comparing two
    numbers is comparing two tokens."""
    from reftbench.model.build import random_model
    from reftbench.model.load import load_model
    from reftbench.model.names import resolve_model
    from reftbench.model.presets import PRESETS

    if init in PRESETS:  # random weights of that shape, from `seed`
        model, processor, _ = random_model(init, seed)
    else:  # base, smol (docs/real-models.md) or a folder: whatever --model accepts
        model, processor = load_model(resolve_model(init))
    if number_tokens:
        processor.tokenizer.add_tokens([str(n) for n in range(10, 112)])
        model.resize_token_embeddings(len(processor.tokenizer), mean_resizing=False)
    return model, processor


def save(model, processor, folder: str) -> None:
    """Write the model and its processor (the number tokens included) where --init can read."""
    model.save_pretrained(folder)
    processor.save_pretrained(folder)


def judge_parts(prompt: str) -> tuple[str, str]:
    """(fact, proposal) of a judge line, in either order."""
    if prompt.startswith("It is "):
        return tuple(prompt[len("It is "):-1].split(". Is it "))
    proposal, fact = prompt[len("Is it "):-1].split("? It is ")
    return fact, proposal


def length_rule(lines: list[tuple[str, str, str]]) -> float:
    """% of judge lines a shortcut gets right: "yes" iff the proposal has as many characters as
    the fact. A judge score near it says the model compares lengths, not contents."""
    judges = [(judge_parts(p), v) for p, v, tier in lines if tier == "judge"]
    hits = sum(v == ("yes" if len(f) == len(q) else "no") for (f, q), v in judges)
    return round(100 * hits / max(1, len(judges)), 1)


def length_chooser(lines: list[tuple[str, str, str]]) -> float:
    """Expected % of choice lines won by picking at random among the options as long as the
    fact (the options' length shortcut). Option lists in the "x (B)" layouts only."""
    odds = []
    for prompt, _, tier in lines:
        if tier != "choice":
            continue
        listed, fact = prompt.split(" Which? It is ")
        fact = fact.removesuffix(" (").removesuffix(".")
        options = [o.rsplit(" (", 1)[0].lstrip(") ") for o in listed.split(")")[:-1]]
        odds.append(1 / sum(len(o) == len(fact) for o in options))
    return round(100 * sum(odds) / max(1, len(odds)), 1)


def by_kind(scores: dict[str, float]) -> str:
    """"judge: box 61.0, number 70.2, ...; choice: ..." from accuracy()'s tier/kind keys."""
    parts = []
    for tier in ("judge", "choice"):
        kinds = [f"{k.split('/')[1]} {v}" for k, v in scores.items() if k.startswith(tier + "/")]
        parts.append(f"{tier}: " + ", ".join(kinds))
    return "; ".join(parts) + " (%)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--init", default="base",
                        help="base, smol, a random-* preset name (random weights), or a folder "
                             "written by --save")
    parser.add_argument("--shots", type=int, default=0,
                        help="with --steps 0: score each held-out line after N solved lines")
    parser.add_argument("--held-out", type=int, default=400, help="held-out lines per tier")
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--sequences", type=int, default=16, help="sequences per step")
    parser.add_argument("--lines", type=int, default=10, help="comparisons per sequence")
    parser.add_argument("--every", type=int, default=250, help="score every N steps")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--order", default="fact-first", choices=("fact-first", "task"),
                        help="fact before the proposal/options, or after them as in the tasks")
    parser.add_argument("--kinds", default=",".join(KINDS),
                        help="fact forms to draw, comma-separated: box, number, shapes")
    parser.add_argument("--letters", default="before", choices=("before", "after", "echo"),
                        help='options as "A. x" (before) or "x (A)" (after); echo: "x (A)" '
                             'and the fact restated as "It is x (" before the letter')
    parser.add_argument("--loss", default="verdict", choices=("verdict", "all"),
                        help="train on each verdict token alone, or on every token")
    parser.add_argument("--negatives", default="any", choices=("any", "same-length"),
                        help="wrong proposals and options: any other fact, or only ones as "
                             "long as the fact (so comparing lengths does not answer)")
    parser.add_argument("--number-tokens", action="store_true",
                        help="one token per whole number 0-111 instead of one per digit")
    parser.add_argument("--among-verdicts", action="store_true",
                        help="with --steps 0: pick the likeliest possible verdict (yes/no, "
                             "A-E), not the likeliest token, so a model whose next token has "
                             "left the lines' format is still scored on its comparison")
    parser.add_argument("--save", default="",
                        help="save the trained model here (a folder --init can start from)")
    output_options(parser, notebook="comparison-from-text")
    args = parser.parse_args()

    kinds = tuple(args.kinds.split(","))
    if not set(kinds) <= set(KINDS):
        parser.error(f"--kinds {args.kinds!r}: choose from {', '.join(KINDS)}")
    if args.among_verdicts and args.steps:
        parser.error("--among-verdicts scores a model as it is: use it with --steps 0")
    model, processor = starting_model(args.init, args.seed, args.number_tokens)
    tokenizer = processor.tokenizer
    layout = {"order": args.order, "letters": args.letters, "kinds": kinds,
              "negatives": args.negatives}
    held_out = held_out_lines(args.seed, args.held_out, layout)
    if args.steps:
        rows, scores = train(model, tokenizer, args.steps, args.lr, args.sequences, args.lines,
                             args.every, args.seed, held_out, layout=layout, loss=args.loss)
        how = (f"{args.sequences} sequences of {args.lines} lines per step, loss on "
               f"{'every token' if args.loss == 'all' else 'the verdict token'}, AdamW lr "
               f"{args.lr} (5% warm-up, then constant), seed {args.seed}")
    else:
        start = time.time()
        shots = [draw_line(random.Random(20_000 + i), **layout) for i in range(args.shots)]
        scores = accuracy(model, tokenizer, held_out, shots, among_verdicts=args.among_verdicts)
        rows = [[0, round(time.time() - start), "-", scores["judge"], scores["choice"]]]
        how = f"no training; each line scored after {args.shots} solved lines (in context)"
        if args.among_verdicts:
            how += "; the likeliest of the possible verdicts, not the likeliest token"
    notes = [f"start: {args.init}; order {args.order}, letters {args.letters}, facts "
             f"{args.kinds}, negatives {args.negatives}, numbers "
             f"{'one token each' if args.number_tokens else 'digit by digit'}; {how}; "
             f"{args.held_out} held-out lines per tier, greedy first verdict token; "
             "chance: judge 50%, choice 20%",
             "last row by fact form: " + by_kind(scores),
             f"the length rule (yes iff the proposal is as long as the fact) scores "
             f"{length_rule(held_out)}% on these judge lines"]
    if args.order == "task" and args.letters != "before":
        notes.append("picking at random among the options as long as the fact scores "
                     f"{length_chooser(held_out)}% on these choice lines")
    if args.save:
        save(model, processor, args.save)
    facts = "" if kinds == KINDS else f", {args.kinds} facts"
    facts += ", loss on every token" if args.loss == "all" else ""
    facts += ", same-length negatives" if args.negatives == "same-length" else ""
    facts += ", one token per number" if args.number_tokens else ""
    report(f"Text-only comparison ({args.init}, {args.order}, letters {args.letters}{facts})",
           ["step", "seconds", "mean loss since last row", "judge %", "choice %"], rows,
           notes=notes, append=not args.no_append,
           notebook=args.notebook)


if __name__ == "__main__":
    main()
