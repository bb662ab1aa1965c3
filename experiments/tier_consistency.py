"""Why are the judge and choice tiers at chance? Perception or comparison?

Every gold judge/choice completion first states the checked fact ("<think>It is [3, 5, 45,
49].</think>") and then answers. For each judge and choice answer of an evaluated run this
script asks three things, with the project's one scorer:

- fact right: the model's stated fact scores as a right open answer (perception);
- agrees: its yes/no or letters are what its own stated fact implies (comparison);
- ideal: the accuracy it would have had by answering what its stated fact implies.

    python experiments/tier_consistency.py results/runs/compare-base

Reads the run's samples.jsonl and the test questions it was scored on (the generated splits,
`--n` scenes, seed 0); adds the table to results/notebook/comparison-in-the-base.md unless
--no-append (`--notebook` names another question's file).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import output_options, report  # noqa: E402
from reftbench.scoring.rewards import extract_answer, score  # noqa: E402
from reftbench.samples import FAMILIES  # noqa: E402

_FACT = re.compile(r"It is (.*?)\.?\s*</think>", re.DOTALL)
# Where a judge question states its proposal, per family.
_PROPOSAL = {"detection": r"(\[[^\]]*\])", "classification": r"no others:\s*(.*)\?$",
             "math": r"Is the answer (.*)\?$"}
_OPTION = re.compile(r"^([A-Z])\. (.*)$", re.MULTILINE)


def matches(open_row: dict, fact: str, value: str) -> bool:
    """Does `fact`, scored as an open answer whose gold is `value`, count as right?"""
    gold = dict(open_row, answer=value)
    return score(gold, f"<think>.</think><answer>{fact}</answer>")["strict"] == 1.0


def present(open_row: dict, fact: str, label: str) -> bool:
    """Is the single label `label` one of the labels in `fact` (classification)?"""
    return score(dict(open_row, answer=label), f"<answer>{fact}</answer>")["accuracy"] > 0


def implied(row: dict, open_row: dict, fact: str) -> str:
    """The answer to `row` that the stated `fact` implies."""
    question = row["question"]
    if row["tier"] == "judge":
        value = re.search(_PROPOSAL[row["family"]], question).group(1)
        return "yes" if matches(open_row, fact, value) else "no"
    options = _OPTION.findall(question)
    if row["family"] == "classification":
        return ",".join(k for k, label in options if present(open_row, fact, label))
    return next((k for k, value in options if matches(open_row, fact, value)), "")


def letters(answer: str) -> list[str]:
    """An answer's comma-separated parts, sorted (letter sets in any order)."""
    return sorted(part.strip() for part in answer.split(","))


def analyse(run: Path, n: int) -> dict:
    """(family, tier) -> counts of n, right, fact right, agrees, ideal."""
    from reftbench.data.generated import load_split

    questions = {}
    for family in FAMILIES:
        for split in ("id", "ood"):
            questions.update({r["id"]: r for r in load_split(family, split, n=n)})
    counts = defaultdict(lambda: defaultdict(int))
    for line in (run / "samples.jsonl").read_text().splitlines():
        done = json.loads(line)
        if done["tier"] not in ("judge", "choice"):
            continue
        row = questions[done["id"]]
        open_row = questions[f"{row['base_id']}-open"]
        found = _FACT.search(done["completion"])
        fact = found.group(1) if found else ""
        answer = implied(row, open_row, fact) if fact else ""
        c = counts[(row["family"], row["split"], row["tier"])]
        c["n"] += 1
        c["right"] += done["strict"]
        c["fact right"] += bool(fact) and matches(open_row, fact, open_row["answer"])
        given = extract_answer(done["completion"]) or ""
        c["agrees"] += bool(fact) and letters(given) == letters(answer)
        c["ideal"] += score(row, f"<think>.</think><answer>{answer}</answer>")["strict"]
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run", type=Path, help="a run folder with samples.jsonl")
    parser.add_argument("--n", type=int, default=500, help="scenes per test split it used")
    output_options(parser, notebook="comparison-in-the-base")
    args = parser.parse_args()
    counts = analyse(args.run, args.n)
    rows = [[f"{family}/{split}/{tier}", c["n"]]
            + [round(100 * c[k] / c["n"], 1) for k in ("right", "fact right", "agrees", "ideal")]
            for (family, split, tier), c in sorted(counts.items())]
    report(f"Judge and choice: perception or comparison? ({args.run.name})",
           ["family/split/tier", "n", "right %", "fact right %", "agrees with own fact %",
            "ideal comparer %"], rows,
           notes=["fact right: the stated fact scored as an open answer; agrees: the answer is "
                  "what the stated fact implies; ideal: accuracy when answering exactly that."],
           append=not args.no_append,
           notebook=args.notebook)


if __name__ == "__main__":
    main()
