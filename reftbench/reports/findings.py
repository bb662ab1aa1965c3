"""The paper's four claims and our two goals, decided on a leaderboard's runs (written by code,
not by hand), each with the effect it rests on, its 95% interval and a three-way verdict.

Every claim and goal is "this difference is above a threshold", the difference taken question by
question over each row's runs (reftbench.reports.paired): it **holds** when the whole interval
lies above the threshold, **does not hold** when it lies below, and is **undecided** when the
interval straddles it (or there are no per-question scores to build one from):

1. SFT improves in-domain more than out-of-domain: sft's in-domain change from the base minus
   its out-of-domain change, above 0.
2. RL improves out-of-domain more than SFT does: grpo's out-of-domain change minus sft's, above
   0 (the base cancels: grpo minus sft out of domain).
3. The curriculum beats plain RL: curr-rl minus grpo above 0 in domain and out of domain.
4. Rejection-sampling SFT keeps (or restores) general ability while keeping the RL gains:
   curr-reft's general ability no more than KEEP below the base's; curr-rl above the base out
   of domain (a gain to keep); curr-reft's out-of-domain average no more than KEEP below
   curr-rl's ("keeps" needs a margin: an interval never shows two numbers equal).
A claim made of parts holds when all hold and does not hold when one does not.
and two goals, **met**, **not met** or **undecided** by the same rule: some RL method at least
LEARNS above the base in domain (RL measurably learns; one of three may pass, so each method's
interval is at 1 - 0.05/3, Bonferroni), and Curr-ReFT's out-of-domain average at least GAP
above SFT's.
"""

from __future__ import annotations

from reftbench.reports.paired import FAILS, HOLDS, UNDECIDED, Estimate, Rows, all_of, any_of, \
    verdict

NEEDED = ("base", "sft", "grpo", "curr-rl", "curr-reft")
RL_METHODS = ("grpo", "curr-rl", "curr-reft")
# What "keeps" tolerates: a loss of less than 2 points counts as kept (a non-inferiority margin,
# about one method's seed-to-seed spread on an average in the committed comparison).
KEEP = 0.02
# The goals' thresholds: an RL method's in-domain gain over the base, Curr-ReFT's out-of-domain
# gap over SFT.
LEARNS, GAP = 0.03, 0.05
GOAL_WORDS = {HOLDS: "met", FAILS: "not met", UNDECIDED: "undecided"}


def claims(rows: Rows) -> list[str]:
    """Markdown lines, one per claim and goal; [] when a needed row or average is missing."""
    rows = on_one_data(rows)
    if any(label not in rows for label in NEEDED):
        return []
    if any(rows.means[label].get(key) is None for label in NEEDED for key in ("avg/id", "avg/ood")):
        return []
    lines = [_claim_one(rows), _claim_two(rows), _claim_three(rows), _claim_four(rows)]
    return lines + ["\n" + _rl_learns(rows), "\n" + _goal(rows)]


def on_one_data(rows: Rows) -> Rows:
    """`rows` under the methods' plain names: as they are for generated data, or the rows of
    the one real-data folder every method was run on (`compare --data mydata` labels them
    `base@mydata`, `sft@mydata`, ...), its "@mydata" dropped; unchanged when neither or several
    folders have every method."""
    if all(label in rows for label in NEEDED):
        return rows
    folders = {label[label.index("@"):] for label in rows.means if "@" in label}
    complete = [f for f in folders if all(name + f in rows for name in NEEDED)]
    if len(complete) != 1:
        return rows
    pick = {name: name + complete[0] for name in NEEDED}
    return Rows({name: rows.scores.get(label) for name, label in pick.items()},
                {name: rows.means[label] for name, label in pick.items()}, rows.field)


def change(rows: Rows, label: str, measure: str, against: str = "base") -> Estimate:
    """`label` minus `against` on one column."""
    return rows.estimate([(label, measure, 1), (against, measure, -1)])


def points(est: Estimate, detectable: bool = True) -> str:
    """"+0.7 points, 95% CI -1.4 to +2.8, smallest detectable 2.9" (80% power: what a
    difference must be for this comparison to find it), or the value alone without an
    interval."""
    if est.effect is None:
        return "not measured"
    text = f"{100 * est.effect:+.1f} points"
    if est.low is None:
        return text
    text += f", {_level(est)} CI {100 * est.low:+.1f} to {100 * est.high:+.1f}"
    return text + (f", smallest detectable {100 * est.mde():.1f}" if detectable else "")


def word(result: str, parts: list[Estimate], goal: bool = False) -> str:
    """The bold verdict, with why it is undecided when no interval could be built."""
    text = f"**{GOAL_WORDS[result] if goal else result}**"
    missing = sorted({p.missing for p in parts if p.missing})
    return text + (f" ({'; '.join(missing)})" if missing and result == UNDECIDED else "")


def _level(est: Estimate) -> str:
    return f"{100 * est.level:.3g}%"


def _claim_one(rows: Rows) -> str:
    gap = rows.estimate([("sft", "avg/id", 1), ("base", "avg/id", -1),
                         ("sft", "avg/ood", -1), ("base", "avg/ood", 1)])
    in_, out = change(rows, "sft", "avg/id"), change(rows, "sft", "avg/ood")
    return (f"1. SFT improves in-domain more than out-of-domain: {word(verdict(gap), [gap])} "
            f"(in-domain change minus out-of-domain change: {points(gap)}; change from base: "
            f"in-domain {_pp(in_)}, out-of-domain {_pp(out)}).")


def _claim_two(rows: Rows) -> str:
    gap = rows.estimate([("grpo", "avg/ood", 1), ("sft", "avg/ood", -1)])
    rl, sft = change(rows, "grpo", "avg/ood"), change(rows, "sft", "avg/ood")
    return (f"2. RL improves out-of-domain more than SFT: {word(verdict(gap), [gap])} (grpo's "
            f"out-of-domain change minus sft's: {points(gap)}; change from base: grpo "
            f"{_pp(rl)}, sft {_pp(sft)}).")


def _claim_three(rows: Rows) -> str:
    parts = [change(rows, "curr-rl", key, "grpo") for key in ("avg/id", "avg/ood")]
    result = all_of([verdict(p) for p in parts])
    return (f"3. The curriculum beats plain RL: {word(result, parts)} (curr-rl minus grpo: in "
            f"domain {points(parts[0])}; out of domain {points(parts[1])}).")


def _claim_four(rows: Rows) -> str:
    title = "4. Rejection-sampling SFT keeps general ability and the RL gains"
    if any(rows.means[label].get("general") is None for label in ("base", "curr-reft")):
        return f"{title}: **{UNDECIDED}** (no general column)."
    general = change(rows, "curr-reft", "general")
    gain = change(rows, "curr-rl", "avg/ood")
    kept = change(rows, "curr-reft", "avg/ood", "curr-rl")
    parts = [general, gain, kept]
    result = all_of([verdict(general, -KEEP), verdict(gain), verdict(kept, -KEEP)])
    return (f"{title}: {word(result, parts)} (general, curr-reft minus base: {points(general)}, "
            f"kept above {-100 * KEEP:+.0f}; out of domain, curr-rl minus base: {points(gain)}, "
            f"a gain above 0; curr-reft minus curr-rl: {points(kept)}, kept above "
            f"{-100 * KEEP:+.0f}).")


def _rl_learns(rows: Rows) -> str:
    level = 1 - (1 - 0.95) / len(RL_METHODS)
    ests = {label: change(rows, label, "avg/id").at(level) for label in RL_METHODS}
    result = any_of([verdict(e, LEARNS) for e in ests.values()])
    listed = ", ".join(f"{label} {points(e, detectable=False)}" for label, e in ests.items())
    return (f"Goal (an RL method at least {100 * LEARNS:.0f} points above the base in domain; "
            f"one of {len(RL_METHODS)} may pass, so each interval is at {100 * level:.3g}%): "
            f"{word(result, list(ests.values()), goal=True)} (in-domain change from base: "
            f"{listed}).")


def _goal(rows: Rows) -> str:
    gap = change(rows, "curr-reft", "avg/ood", "sft")
    return (f"Goal (Curr-ReFT out of domain at least {100 * GAP:.0f} points above SFT): "
            f"{word(verdict(gap, GAP), [gap], goal=True)} (gap: {points(gap)}).")


def _pp(est: Estimate) -> str:
    return "-" if est.effect is None else f"{100 * est.effect:+.1f}"
