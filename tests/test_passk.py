"""Strict reported accuracy (exact label sets) and pass@K beside greedy, on crafted outputs."""

import pytest
from conftest import N_TEST

from reftbench import fileio
from reftbench.errors import UserError
from reftbench.evaluation.evaluate import EvalConfig, evaluate
from reftbench.reports.leaderboard import row_values, sampling_rows
from reftbench.scoring.rewards import score

CLASSIFY = {"id": "c", "answer": "circle, square", "metric": "label_set_iou"}


def _answer(text):
    return f"<think>t</think><answer>{text}</answer>"


def test_label_sets_report_the_exact_set_and_train_on_set_iou():
    partial = score(CLASSIFY, _answer("circle, square, star"))
    assert partial["accuracy"] == pytest.approx(2 / 3) and partial["strict"] == 0.0
    right = score(CLASSIFY, _answer("square, circle"))
    assert right["accuracy"] == 1.0 and right["strict"] == 1.0
    assert score(CLASSIFY, "circle, square")["strict"] == 0.0  # no answer block
    # Metrics without an exact flag report their accuracy.
    box = {"id": "b", "answer": "[0, 0, 10, 10]", "metric": "box_iou"}
    assert score(box, _answer("[0, 0, 10, 10]"))["strict"] == 1.0


class Scripted:
    """Greedy: always wrong; sampled: the i-th of K completions right for chosen ids."""

    def __init__(self, right_draws):
        self.right_draws = right_draws  # id -> how many of the K draws are right

    def generate(self, samples, sampling):
        if sampling.temperature == 0:
            return [[_answer("qqq")] for _ in samples]
        out = []
        for s in samples:
            k = self.right_draws.get(s["id"], 0)
            out.append([_answer(s["answer"]) if i < k else _answer("qqq")
                        for i in range(sampling.n)])
        return out


def test_samples_add_sampled_accuracy_and_pass_at_k(tmp_path):
    cfg = EvalConfig(model="random-micro", families=("math",), splits=("id",), n_test=N_TEST,
                     samples=4, run_id="passk")
    from reftbench.evaluation.evaluate import select_samples

    ids = [s["id"] for s in select_samples(cfg)]
    draws = {ids[0]: 4, ids[1]: 1}  # one always right, one right once, the rest never
    results = evaluate(cfg, tmp_path, backend=Scripted(draws))
    m = results["metrics"]["math/id/open"]
    n = len(ids)
    assert m["strict"] == 0.0 and m["samples"] == 4
    assert m["sampled"] == pytest.approx((1.0 + 0.25) / n)
    assert m["pass_k"] == pytest.approx(2 / n)
    rows = fileio.read_jsonl(tmp_path / "runs" / "passk" / "samples.jsonl")
    assert {r["id"]: r["pass_k"] for r in rows}[ids[1]] == 1.0
    header, table = sampling_rows({"m": [results]})
    assert header[:5] == ["model", "K", "greedy id", "sampled id", "pass@K id"]
    # One family only: the three-family averages stay empty, the family's own cells do not.
    assert table[0][:3] == ["m", "4", "-"]
    assert row_values([results], "pass_k")["math/id"][0] == pytest.approx(2 / n)


def test_greedy_only_runs_have_no_sampling_fields(tmp_path):
    cfg = EvalConfig(model="random-micro", families=("math",), splits=("id",), n_test=N_TEST)
    results = evaluate(cfg, tmp_path, backend=Scripted({}))
    assert "pass_k" not in results["metrics"]["math/id/open"]
    assert sampling_rows({"m": [results]})[1] == []


@pytest.mark.parametrize("bad", [{"samples": 1}, {"samples": -2}, {"sample_temperature": 0}])
def test_bad_sampling_settings_are_refused(bad):
    with pytest.raises(UserError):
        EvalConfig(model="random-micro", **bad)


def test_leaderboard_reads_strict_and_falls_back_to_accuracy():
    new = {"metrics": {"classification/id/open": {"accuracy": 0.6, "strict": 0.2}}}
    old = {"metrics": {"classification/id/open": {"accuracy": 0.6}}}
    assert row_values([new])["classification/id"][0] == 0.2
    assert row_values([old])["classification/id"][0] == 0.6


def test_the_run_table_shows_every_cell_in_an_80_column_terminal(tmp_path):
    from rich.console import Console

    from reftbench.reports.terminal import results_table

    cfg = EvalConfig(model="random-micro", families=("math", "classification"), n_test=N_TEST,
                     samples=4, run_id="wide")
    results = evaluate(cfg, tmp_path, backend=Scripted({}))
    console = Console(width=80, record=True)
    console.print(results_table(results))
    text = console.export_text()
    assert "…" not in text and "pass@4" in text and "sampled" in text
    assert max(len(line) for line in text.splitlines()) <= 80
    # One row per family x split of the open tier.
    assert sum(line.count("│ open") for line in text.splitlines()) == 4
