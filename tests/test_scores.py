"""Per-question scores: written by every evaluation, small enough to commit, read back exactly,
rebuilt from a local samples.jsonl, and refused when they do not match their run."""

import json

import pytest
from conftest import N_TEST
from crafted import rows_of

from reftbench import fileio
from reftbench.evaluation import scores
from reftbench.evaluation.evaluate import EvalConfig, evaluate
from reftbench.reports.leaderboard import collect, paired_rows
from reftbench.samples import FAMILIES, TEST_SPLITS, TIERS


@pytest.mark.parametrize("ids", [
    [f"math-id-{i:06d}-open" for i in range(500)],               # generated: a range
    [f"general-id-{i:06d}-open" for i in range(7, 12)],
    ["a1b", "a11b", "x y", "", "日本"],                              # anything else: kept as is
    ["only-one"],
    [f"q{i}" for i in (1, 2, 4)],                                 # a gap: not a range
])
def test_ids_survive_the_compact_encoding(ids):
    ids = sorted(ids)
    assert scores.decode_ids(json.loads(json.dumps(scores.encode_ids(ids)))) == ids


def test_a_compare_base_is_far_under_100_kb(tmp_path):
    # 500 questions x 3 tiers x 6 cells + 500 general, 0/1 scores.
    rows = [{"id": f"{f}-{s}-{q:06d}-{t}", "family": f, "split": s, "tier": t, "gold": "g",
             "strict": float(q % 3 == 0)}
            for f in FAMILIES for s in TEST_SPLITS for t in TIERS for q in range(500)]
    rows += [{"id": f"general-id-{q:06d}-open", "family": "general", "split": "id",
              "tier": "open", "gold": "g", "strict": 0.5 + (q % 2) / 2} for q in range(500)]
    scores.write(tmp_path, rows)
    assert (tmp_path / scores.FILE).stat().st_size < 25_000
    cells = scores.read(tmp_path)
    assert len(cells) == 19 and cells["math/ood/judge"].values["strict"][:4] == [1, 0, 0, 1]
    assert cells["general/id/open"].ids[0] == "general-id-000000-open"


def test_the_evaluator_writes_every_questions_scores(tmp_path):
    from test_passk import Scripted

    cfg = EvalConfig(model="random-micro", families=("math",), n_test=N_TEST, samples=4,
                     run_id="r")
    results = evaluate(cfg, tmp_path, backend=Scripted({}))
    log = fileio.read_jsonl(tmp_path / "runs" / "r" / "samples.jsonl")
    cells = scores.read(tmp_path / "runs" / "r")
    assert set(cells) == {k for k in results["metrics"]}
    for key, cell in cells.items():
        mine = sorted((r for r in log if f"{r['family']}/{r['split']}/{r['tier']}" == key),
                      key=lambda r: r["id"])
        assert cell.ids == [r["id"] for r in mine]
        for name in ("strict", "sampled", "pass_k"):
            assert cell.values[name] == [r[name] for r in mine]
        assert len(cell.ids) == results["metrics"][key]["n"]


def test_the_leaderboard_rebuilds_missing_scores_from_samples_jsonl(tmp_path):
    run = tmp_path / "runs" / "old"
    run.mkdir(parents=True)
    rows = rows_of({"math/id/open": [1.0, 0.0, 1.0], "math/ood/open": [0.0, 0.0]})
    rows.append(dict(rows[0], strict=0.0))      # a row logged twice: the last one counts
    fileio.write_atomic(run / "samples.jsonl", fileio.dumps_jsonl(rows))
    results = {"label": "old", "metrics": {"math/id/open": {"n": 3, "strict": 1 / 3},
                                           "math/ood/open": {"n": 2, "strict": 0.0}}}
    (run / "results.json").write_text(json.dumps(results))
    rebuilt = paired_rows(collect(tmp_path)).scores["old"][0]
    assert rebuilt["math/id/open"].values["strict"] == [0.0, 0.0, 1.0]
    assert scores.read(run)["math/ood/open"].ids == ["math-ood-000000-open",
                                                     "math-ood-000001-open"]


def test_a_log_that_does_not_match_its_results_is_not_used(tmp_path, caplog):
    run = tmp_path / "runs" / "odd"
    run.mkdir(parents=True)
    fileio.write_atomic(run / "samples.jsonl",
                        fileio.dumps_jsonl(rows_of({"math/id/open": [1.0, 0.0]})))
    (run / "results.json").write_text(json.dumps(
        {"label": "odd", "metrics": {"math/id/open": {"n": 5, "strict": 0.2}}}))
    assert paired_rows(collect(tmp_path)).scores["odd"] == [None]
    assert not (run / scores.FILE).exists()
    assert "does not match its results.json" in caplog.text
    (run / scores.FILE).write_text("{broken")
    assert scores.read(run) is None and "not a scores file" in caplog.text
