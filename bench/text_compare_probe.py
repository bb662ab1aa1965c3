"""Can the language model alone learn to compare? Text-only training on synthetic comparisons.

The judge and choice tiers need one skill past perception: comparing the fact the model states
with the proposal in the question ("It is [46, 20, 67, 41]." against "Is the answer [45, 46,
72, 73]?"), or finding the option that equals it. bench/compare_probe.py found the base at chance
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

    python bench/text_compare_probe.py --init random --steps 2000
    python bench/text_compare_probe.py --init random-tiny --order task --letters echo --steps 800

Appends the table to results/PERF.md unless --no-append.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import report  # noqa: E402

SHAPES = ("circle", "square", "triangle", "star", "hexagon", "diamond")
KINDS = ("box", "number", "shapes")


def draw_fact(rng: random.Random, kind: str) -> str:
    """A fact as the families state it: a box, a count, or a sorted shape list."""
    if kind == "box":
        return "[" + ", ".join(str(rng.randint(0, 111)) for _ in range(4)) + "]"
    if kind == "number":
        return str(rng.randint(0, 20))
    return ", ".join(sorted(rng.sample(SHAPES, rng.randint(1, 3))))


def other_fact(rng: random.Random, fact: str, kind: str) -> str:
    """A fact that is not `fact`: for a box, half the time the same box with one number moved."""
    if kind == "box" and rng.random() < 0.5:
        nums = fact.strip("[]").split(", ")
        i = rng.randrange(4)
        nums[i] = str((int(nums[i]) + rng.randint(1, 30)) % 112)
        return "[" + ", ".join(nums) + "]"
    other = draw_fact(rng, kind)
    while other == fact:
        other = draw_fact(rng, kind)
    return other


def same_length_fact(rng: random.Random, fact: str, kind: str, tries: int = 100) -> str:
    """A fact that is not `fact` but has as many characters, so comparing lengths cannot tell
    them apart; any other fact if none turns up in `tries` draws (e.g. "star" has no other
    four-letter shape)."""
    other = other_fact(rng, fact, kind)
    for _ in range(tries):
        if len(other) == len(fact):
            return other
        other = other_fact(rng, fact, kind)
    return other


def draw_line(rng: random.Random, order: str = "fact-first", letters: str = "before",
              kinds: tuple[str, ...] = KINDS,
              negatives: str = "any") -> tuple[str, str, str]:
    """(prompt, verdict, tier) of one comparison; judge answers are yes half the time.

    order "fact-first" states the fact before the proposal or options; "task" puts it after
    them, where the tasks have it (the question holds the proposal, the model's completion
    states the fact). letters "before" lists options as "A. x", "after" as "x (A)", and "echo"
    as "x (A)" with the fact restated the same way, "It is x (", before the letter. `kinds`
    are the fact forms drawn from (KINDS: box, number, shapes). negatives "same-length" draws
    wrong proposals and options as long as the fact (same_length_fact)."""
    wrong = same_length_fact if negatives == "same-length" else other_fact
    kind = rng.choice(kinds)
    fact = draw_fact(rng, kind)
    if rng.random() < 0.5:
        same = rng.random() < 0.5
        proposal = fact if same else wrong(rng, fact, kind)
        ask = f"Is it {proposal}?"
        prompt = f"It is {fact}. {ask}" if order == "fact-first" else f"{ask} It is {fact}."
        return prompt, "yes" if same else "no", "judge"
    options = [fact]
    while len(options) < 5:
        candidate = wrong(rng, fact, kind)
        if candidate not in options:
            options.append(candidate)
    rng.shuffle(options)
    if letters == "before":
        listed = " ".join(f"{letter}. {o}" for letter, o in zip("ABCDE", options))
    else:
        listed = " ".join(f"{o} ({letter})" for letter, o in zip("ABCDE", options))
    # "echo": the fact is restated as its option is listed, "x (", so the letter that follows
    # it can be copied from the list (what an induction head does) rather than looked up.
    end = " (" if letters == "echo" else "."
    prompt = (f"It is {fact}{end} {listed} Which?" if order == "fact-first"
              else f"{listed} Which? It is {fact}{end}")
    return prompt, "ABCDE"[options.index(fact)], "choice"


def spoken(prompt: str, verdict: str) -> str:
    """The verdict as written after its prompt: " yes", " B", or "B" straight after an echoed
    "(", the token that follows "(" in the option list."""
    return verdict if prompt.endswith("(") else f" {verdict}"


def kind_of(prompt: str) -> str:
    """The fact form a line compares: box, shapes or number."""
    if "[" in prompt:
        return "box"
    return "shapes" if any(shape in prompt for shape in SHAPES) else "number"


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


def accuracy(model, tokenizer, lines: list[tuple[str, str, str]],
             shots: list[tuple[str, str, str]] = ()) -> dict[str, float]:
    """Tier -> % of lines whose greedy next token after the prompt is the verdict's first,
    and "tier/kind" -> the same per fact form (box, number, shapes); `shots` (solved lines)
    come first in every prompt, in the training layout (in-context)."""
    import torch

    hits: dict[str, list[int]] = {}
    prefix = "".join(f"{p}{spoken(p, v)}\n" for p, v, _ in shots)
    model.eval()
    with torch.no_grad():
        for start in range(0, len(lines), 100):
            chunk = lines[start:start + 100]
            prompts = [tokenizer(prefix + p, add_special_tokens=False)["input_ids"]
                       for p, _, _ in chunk]
            ids, mask, _ = batch(tokenizer, [(p, p) for p in prompts])
            logits = model(input_ids=ids, attention_mask=mask).logits
            last = mask.sum(1) - 1
            guesses = logits[torch.arange(len(chunk)), last].argmax(-1).tolist()
            for (prompt, verdict, tier), guess in zip(chunk, guesses):
                spoken_ids = tokenizer(spoken(prompt, verdict), add_special_tokens=False)
                first = spoken_ids["input_ids"][0]
                for key in (tier, f"{tier}/{kind_of(prompt)}"):
                    cell = hits.setdefault(key, [0, 0])
                    cell[0] += int(guess == first)
                    cell[1] += 1
    model.train()
    return {tier: round(100 * a / n, 1) for tier, (a, n) in sorted(hits.items())}


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


def train(model, tokenizer, steps: int, lr: float, sequences: int, lines: int, every: int,
          seed: int, held_out: list, log=print, layout: dict | None = None,
          loss: str = "verdict") -> tuple[list[list], dict[str, float]]:
    """AdamW, constant lr after a 5% warm-up; (rows [step, seconds, mean loss, judge %,
    choice %], the last scores by tier and by tier/kind)."""
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
        if step % every == 0 or step == steps:
            scores = accuracy(model, tokenizer, held_out)
            rows.append([step, round(time.time() - start), round(sum(losses) / len(losses), 4),
                         scores.get("judge"), scores.get("choice")])
            log(*rows[-1], flush=True)
            losses = []
    return rows, scores


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
    parser.add_argument("--save", default="",
                        help="save the trained model here (a folder --init can start from)")
    parser.add_argument("--no-append", action="store_true")
    args = parser.parse_args()

    kinds = tuple(args.kinds.split(","))
    if not set(kinds) <= set(KINDS):
        parser.error(f"--kinds {args.kinds!r}: choose from {', '.join(KINDS)}")
    model, processor = starting_model(args.init, args.seed, args.number_tokens)
    tokenizer = processor.tokenizer
    layout = {"order": args.order, "letters": args.letters, "kinds": kinds,
              "negatives": args.negatives}
    # Held-out lines come from their own stream; training draws from seed + 1.
    held_rng = random.Random(10_000 + args.seed)
    held_out: list = []
    for tier in ("judge", "choice"):
        while sum(1 for line in held_out if line[2] == tier) < args.held_out:
            line = draw_line(held_rng, **layout)
            if line[2] == tier:
                held_out.append(line)
    if args.steps:
        rows, scores = train(model, tokenizer, args.steps, args.lr, args.sequences, args.lines,
                             args.every, args.seed, held_out, layout=layout, loss=args.loss)
        how = (f"{args.sequences} sequences of {args.lines} lines per step, loss on "
               f"{'every token' if args.loss == 'all' else 'the verdict token'}, AdamW lr "
               f"{args.lr} (5% warm-up, then constant), seed {args.seed}")
    else:
        start = time.time()
        shots = [draw_line(random.Random(20_000 + i), **layout) for i in range(args.shots)]
        scores = accuracy(model, tokenizer, held_out, shots)
        rows = [[0, round(time.time() - start), "-", scores["judge"], scores["choice"]]]
        how = f"no training; each line scored after {args.shots} solved lines (in context)"
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
           notes=notes, append=not args.no_append)


if __name__ == "__main__":
    main()
