"""How often the leaderboard's 95% intervals cover the true difference, on simulated comparisons.

    python experiments/verdict_coverage.py [--draws 2000] [--questions 500] [--seeds 3] [--bootstrap 400]

Each draw simulates a comparison shaped like `reftbench compare`'s: a base (one run, a fixed
model) and two trained methods (`--seeds` runs each), scored 0/1 on the same `--questions` per
family x split. A question has a difficulty shared by every model (so scores pair), each method
its own lean per question, each run a shift of its whole mean (the seed effect) and its own
per-question luck; the true difference of two rows is their expected accuracy over questions
and seeds, computed exactly (Gauss-Hermite). For each comparison it prints how often the
interval of reftbench.reports.paired covers the truth, its mean half-width, how often the
verdict is "holds" (power; at a zero effect, the false-alarm rate, 2.5% at most), and the same
coverage for two shortcuts: a hierarchical percentile bootstrap (resample runs, then questions
paired across rows; `--bootstrap` draws only, it is slow) and a t interval over run means alone.
Deterministic for a given --seed.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from scipy import stats
from scipy.special import expit

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from reftbench.evaluation.scores import Cell  # noqa: E402
from reftbench.reports.columns import cells as measure_cells  # noqa: E402
from reftbench.reports.paired import HOLDS, Rows, verdict  # noqa: E402
from reftbench.samples import FAMILIES, TEST_SPLITS  # noqa: E402

# Logit of each split's typical accuracy (about 42% in domain, 29% out of domain, as the base).
SPLIT_MEAN = {"id": -0.35, "ood": -0.9}
# Spread (logit) of question difficulty (shared by all models) and of a method's own lean per
# question (fixed across its seeds).
QUESTION_SD, LEAN_SD = 1.6, 0.6
# Per-run, per-question luck (logit) of a trained model, on top of its 0/1 draw.
LUCK_SD = 0.6
# Trained methods' true shift from the base (logit): about +4 and +2 points.
SHIFT = {"base": 0.0, "a": 0.2, "b": 0.1}
# (name, sd of a run's whole-mean shift in logit): none, about 1 point, about 3 points.
SCENARIOS = (("no seed effect", 0.0), ("seed effect ~1 pt", 0.05), ("seed effect ~3 pts", 0.14))
# (name, [(row, column, coefficient)]) as findings.py builds them.
CONTRASTS = (
    ("a - base, avg id", [("a", "avg/id", 1), ("base", "avg/id", -1)]),
    ("a - b, avg ood", [("a", "avg/ood", 1), ("b", "avg/ood", -1)]),
    ("a - base, math id", [("a", "math/id", 1), ("base", "math/id", -1)]),
    ("(a - base) id - ood", [("a", "avg/id", 1), ("base", "avg/id", -1),
                             ("a", "avg/ood", -1), ("base", "avg/ood", 1)]),
    ("b - b (zero effect)", [("b", "avg/id", 1), ("base", "avg/id", 0)]),
)

NODES, WEIGHTS = np.polynomial.hermite.hermgauss(80)


def expected(mean: float, var: float) -> float:
    """E[expit(X)] for X ~ N(mean, var)."""
    return float((WEIGHTS * expit(mean + np.sqrt(2 * var) * NODES)).sum() / np.sqrt(np.pi))


def truth(label: str, cell: str, seed_sd: float) -> float:
    """A row's expected accuracy on a cell over questions (and, trained, over seeds)."""
    split = cell.split("/")[1]
    var = QUESTION_SD ** 2 + LEAN_SD ** 2
    if label != "base":
        var += seed_sd ** 2 + LUCK_SD ** 2
    return expected(SPLIT_MEAN[split] + SHIFT[label], var)


def true_value(terms, seed_sd: float) -> float:
    if terms[0][0] == "b" and terms[1][2] == 0:  # "b - b": two draws of b's seeds, see simulate
        return 0.0
    return sum(coef * w * truth(label, cell, seed_sd)
               for label, measure, coef in terms for cell, w in measure_cells(measure).items())


def simulate(rng, questions: int, seeds: int, seed_sd: float) -> dict[str, list[dict]]:
    """label -> runs -> cell -> 0/1 scores; "b2" is a second, independent set of b's seeds."""
    keys = [f"{f}/{s}/open" for f in FAMILIES for s in TEST_SPLITS]
    difficulty = {k: rng.normal(0, QUESTION_SD, questions) for k in keys}
    out = {}
    for label, runs in (("base", 1), ("a", seeds), ("b", seeds)):
        lean = {k: rng.normal(0, LEAN_SD, questions) for k in keys}
        out[label] = []
        for _ in range(runs):
            shift = rng.normal(0, seed_sd) if label != "base" else 0.0
            run = {}
            for k in keys:
                luck = rng.normal(0, LUCK_SD, questions) if label != "base" else 0.0
                logit = SPLIT_MEAN[k.split("/")[1]] + SHIFT[label] + difficulty[k] + lean[k] \
                    + shift + luck
                run[k] = (rng.random(questions) < expit(logit)).astype(float)
            out[label].append(run)
    return out


def as_rows(sim: dict) -> Rows:
    ids = None
    scores = {}
    for label, runs in sim.items():
        scores[label] = []
        for run in runs:
            cells = {}
            for key, y in run.items():
                ids = ids or [f"q{i:04d}" for i in range(len(y))]
                cells[key] = Cell(ids, "same", {"strict": list(y)})
            scores[label].append(cells)
    return Rows(scores, {label: {} for label in scores})


def bootstrap(rng, sim: dict, terms, reps: int) -> tuple[float, float]:
    """Hierarchical percentile bootstrap: resample each row's runs, then questions (the same
    questions for every row)."""
    total = np.zeros(reps)
    weights: dict[tuple[str, str], float] = {}
    for label, measure, coef in terms:
        for cell, w in measure_cells(measure).items():
            weights[(label, cell)] = weights.get((label, cell), 0.0) + coef * w
    by_cell: dict[str, np.ndarray] = {}
    for (label, cell), w in weights.items():
        y = np.array([run[cell] for run in sim[label]])  # runs x questions
        runs, questions = y.shape
        pick = rng.integers(0, runs, (reps, runs))
        by_cell.setdefault(cell, np.zeros((reps, questions)))
        by_cell[cell] += w * y[pick].mean(axis=1)
    for cell, per_question in by_cell.items():
        questions = per_question.shape[1]
        pick = rng.integers(0, questions, (reps, questions))
        total += np.take_along_axis(per_question, pick, axis=1).mean(axis=1)
    return float(np.quantile(total, 0.025)), float(np.quantile(total, 0.975))


def run_means_t(sim: dict, terms) -> tuple[float, float]:
    """A Welch-style t interval over each row's run means alone (questions held fixed)."""
    value, var, parts = 0.0, 0.0, []
    for label in {t[0] for t in terms}:
        means = np.array([sum(coef * w * run[cell].mean() for lab, measure, coef in terms
                              if lab == label for cell, w in measure_cells(measure).items())
                          for run in sim[label]])
        value += means.mean()
        if len(means) > 1:
            v = means.var(ddof=1) / len(means)
            var += v
            parts.append((v, len(means) - 1))
    df = var ** 2 / sum(v * v / d for v, d in parts) if var > 0 else np.inf
    half = stats.t.ppf(0.975, df) * np.sqrt(var)
    return value - half, value + half


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--draws", type=int, default=2000)
    parser.add_argument("--questions", type=int, default=500)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--bootstrap", type=int, default=400,
                        help="draws that also run the bootstrap (0 = none)")
    parser.add_argument("--reps", type=int, default=1000, help="bootstrap resamples")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    print(f"{args.draws} draws, {args.questions} questions per cell, {args.seeds} runs per "
          f"method, base 1 run; 95% intervals\n")
    header = ("scenario", "comparison", "truth", "covered", "half-width", "holds",
              "boot covered", "run-means covered", "seed sd of avg id")
    print("| " + " | ".join(header) + " |\n" + "|---" * len(header) + "|")
    for name, seed_sd in SCENARIOS:
        rng = np.random.default_rng(args.seed)
        hits = {c: [] for c, _ in CONTRASTS}
        widths, holds = {c: [] for c, _ in CONTRASTS}, {c: [] for c, _ in CONTRASTS}
        boot, naive = {c: [] for c, _ in CONTRASTS}, {c: [] for c, _ in CONTRASTS}
        spreads = []
        for draw in range(args.draws):
            sim = simulate(rng, args.questions, args.seeds, seed_sd)
            # "b - b": b's runs against a second, independent draw of b's runs.
            sim["b2"] = simulate(rng, args.questions, args.seeds, seed_sd)["b"]
            rows = as_rows(sim)
            spreads.append(np.std([np.mean([run[f"{f}/id/open"].mean() for f in FAMILIES])
                                   for run in sim["a"]], ddof=1))
            for cname, terms in CONTRASTS:
                terms = [("b2", m, -1) if lab == "base" and c == 0 else (lab, m, c)
                         for lab, m, c in terms] if cname.startswith("b - b") else terms
                true = true_value(terms, seed_sd) if not cname.startswith("b - b") else 0.0
                est = rows.estimate(terms)
                hits[cname].append(est.low <= true <= est.high)
                widths[cname].append(est.half_width)
                holds[cname].append(verdict(est) == HOLDS)
                lo, hi = run_means_t(sim, terms)
                naive[cname].append(lo <= true <= hi)
                if draw < args.bootstrap:
                    lo, hi = bootstrap(rng, sim, terms, args.reps)
                    boot[cname].append(lo <= true <= hi)
        for cname, terms in CONTRASTS:
            true = true_value(terms, seed_sd) if not cname.startswith("b - b") else 0.0
            b = f"{100 * np.mean(boot[cname]):.1f}%" if boot[cname] else "-"
            print(f"| {name} | {cname} | {100 * true:+.2f} | {100 * np.mean(hits[cname]):.1f}% | "
                  f"{100 * np.mean(widths[cname]):.2f} | {100 * np.mean(holds[cname]):.1f}% | "
                  f"{b} | {100 * np.mean(naive[cname]):.1f}% | {100 * np.mean(spreads):.2f} |",
                  flush=True)


if __name__ == "__main__":
    main()
